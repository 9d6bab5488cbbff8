// `npm start` (the compiled build) or `npm run dev` (the sources, through tsx): the whole system
// on one machine. Starts the Temporal dev server (unless one is configured elsewhere), the worker
// and the API as separate processes, waits until a workflow has gone through the worker, prints
// where everything is, and stops it all on Ctrl-C. It supervises them: a part that dies is
// started again (scripts/lib/supervisor.ts).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@temporalio/client';
import { WORKER_PROBE_WORKFLOW } from '../contracts/probe';
import type { WorkerProbeResult } from '../contracts/probe';
import {
  COMPILED,
  DIST_DIR,
  loadConfigOrExit,
  NODE_ENV_VARS,
  NODE_FLAGS,
  REPO_ROOT,
} from '../platform/config';
import type { Config } from '../platform/config';
import { Supervisor } from './lib/supervisor';
import type { Part, Running } from './lib/supervisor';
import { startDevServer, waitForTemporal } from './lib/temporal-dev-server';
import type { DevServer, DevServerOptions } from './lib/temporal-dev-server';
import { prettyLogLine } from './lib/pretty-log';

const say = (line: string) => process.stdout.write(`aiworker: ${line}\n`);

interface Process {
  child: ChildProcess;
  exited: Promise<string>;
}

/**
 * How node runs one of the system's entry points (`worker/main`): the compiled build when this is
 * the build (`npm start`), the TypeScript sources through tsx in development (`npm run dev`).
 */
function nodeArgs(entry: string): string[] {
  return COMPILED
    ? [...NODE_FLAGS, path.join(DIST_DIR, `${entry}.js`)]
    : ['--import', 'tsx', path.join(REPO_ROOT, `${entry}.ts`)];
}

function startProcess(entry: string, env: NodeJS.ProcessEnv): Process {
  const child = spawn(process.execPath, nodeArgs(entry), {
    cwd: REPO_ROOT,
    env: COMPILED ? { ...NODE_ENV_VARS, ...env } : env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    createInterface({ input: stream }).on('line', (line) => out.write(`${prettyLogLine(line)}\n`));
  }
  return { child, exited: endOf(child) };
}

/** How a child process ended: its exit code, or the signal that ended it. */
function endOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)),
  );
}

async function stopProcess(child: ChildProcess, exited: Promise<string>, graceMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A process of the system as the supervisor runs it. */
function processPart(name: string, entry: string, env: NodeJS.ProcessEnv): Part {
  return {
    name,
    start(): Promise<Running> {
      const started = startProcess(entry, env);
      return Promise.resolve({
        exited: started.exited,
        stop: () => stopProcess(started.child, started.exited),
      });
    },
  };
}

/** The admin token: from the environment, else the one kept in the data folder (created on first start). */
function adminToken(config: Config): string {
  if (config.adminToken) return config.adminToken;
  const file = path.join(config.dataDir, 'admin-token');
  if (existsSync(file)) {
    say(`admin token: in ${file}`);
    return readFileSync(file, 'utf8').trim();
  }
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  say(`generated an admin token (shown once; kept in ${file}):`);
  process.stdout.write(`\n    ${token}\n\n`);
  return token;
}

/**
 * While nobody has an account, a one-time link that makes its opener the first administrator
 * (`POST /api/users/first-admin-link`); null once people exist (or if the API says no).
 */
async function firstAdminLink(apiUrl: string, token: string): Promise<string | null> {
  try {
    const res = await fetch(`${apiUrl}/api/users/first-admin-link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    if (res.status !== 201) return null;
    return ((await res.json()) as { url: string }).url;
  } catch {
    return null;
  }
}

function isLoopback(address: string): boolean {
  const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

async function temporalReachable(address: string): Promise<boolean> {
  try {
    const connection = await waitForTemporal(address, 1500);
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/** The Temporal dev server `npm start` runs, or null when it uses a server configured elsewhere. */
async function devServerOptions(config: Config): Promise<DevServerOptions | null> {
  const { address, devServer, uiPort, namespace } = config.temporal;
  const wanted =
    devServer === 'on' ||
    (devServer === 'auto' && isLoopback(address) && !(await temporalReachable(address)));
  if (!wanted) {
    say(`using the Temporal server at ${address}`);
    (await waitForTemporal(address, 60_000)).close().catch(() => undefined);
    return null;
  }
  const [host, port] = [address.replace(/:\d+$/, ''), Number(address.split(':').pop())];
  return {
    host: host === 'localhost' ? '127.0.0.1' : host,
    port,
    namespace,
    uiPort,
    dbFile: path.join(config.dataDir, 'temporal.sqlite'),
    logFile: path.join(config.dataDir, 'temporal.log'),
  };
}

/** The dev server as a supervised part: started again, on the same SQLite file, if it dies. */
function temporalPart(options: DevServerOptions): Part {
  return {
    name: 'temporal',
    async start(): Promise<Running> {
      say(
        `starting the Temporal dev server on ${options.host}:${options.port} (state in ${options.dbFile})`,
      );
      const server: DevServer = await startDevServer(options);
      return { exited: endOf(server.process), stop: () => server.stop() };
    },
  };
}

async function waitForReady(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
      last =
        ((await res.json()) as { error?: { message?: string } }).error?.message ??
        `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the API at ${url} was not ready after ${timeoutMs} ms: ${last}`);
}

async function probeWorker(config: Config): Promise<WorkerProbeResult & { workflowId: string }> {
  const connection = await waitForTemporal(config.temporal.address, 10_000);
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const workflowId = `worker-probe-${Date.now()}`;
    const result = await client.workflow.execute<() => Promise<WorkerProbeResult>>(
      WORKER_PROBE_WORKFLOW,
      {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        workflowExecutionTimeout: '2 minutes',
      },
    );
    return { ...result, workflowId };
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  mkdirSync(config.dataDir, { recursive: true });
  const token = adminToken(config);
  const order: string[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await supervisor.stopAll(order);
    say('stopped');
    process.exit(code);
  };
  const supervisor = new Supervisor(say, (why) => {
    say(`giving up: ${why}; stopping everything`);
    void stopAll(1);
  });
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    const devServer = await devServerOptions(config);
    if (devServer) {
      order.push('temporal');
      await supervisor.add(temporalPart(devServer));
    }
    // Only the API checks the admin token. The worker runs the previews, the branches' code: it
    // never holds the token, even when it comes from this process's own environment.
    const env: NodeJS.ProcessEnv = { ...process.env, AIWORKER_DATA_DIR: config.dataDir };
    delete env.AIWORKER_ADMIN_TOKEN;
    order.push('worker', 'api');
    await supervisor.add(processPart('worker', 'worker/main', env));
    await supervisor.add(processPart('api', 'api/main', { ...env, AIWORKER_ADMIN_TOKEN: token }));
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const apiUrl = `http://${host}:${config.port}`;
    await waitForReady(apiUrl);
    const probe = await probeWorker(config);
    say(
      `worker ${probe.workerIdentity} ran probe workflow ${probe.workflowId} (mysql ${probe.mysql}, redis ${probe.redis})`,
    );
    const firstSignIn = await firstAdminLink(apiUrl, token);
    const ui =
      devServer && config.temporal.uiPort
        ? `http://127.0.0.1:${config.temporal.uiPort}`
        : '(external server)';
    process.stdout.write(
      [
        '',
        `  API and board     ${apiUrl}`,
        `  MCP endpoint      ${apiUrl}/mcp`,
        `  Temporal          ${config.temporal.address} (namespace ${config.temporal.namespace})`,
        `  Temporal Web UI   ${ui}`,
        `  Data folder       ${config.dataDir}`,
        ...(firstSignIn
          ? [
              `  First sign-in     ${firstSignIn}`,
              '                    (nobody has an account yet: this link works once, for an hour,',
              '                     and makes whoever opens it the first administrator)',
            ]
          : []),
        '',
        '  Ctrl-C stops everything.',
        '',
      ].join('\n') + '\n',
    );
  } catch (err) {
    say(`start-up failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
}

void main();
