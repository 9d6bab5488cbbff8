/**
 * What every benchmark needs: its own Temporal dev server, scratch database, worker process and
 * in-process API, torn down (last started, first stopped) however the run ends, Ctrl-C included.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiDeps } from '../api/deps';
import { startApiServer } from '../api/server';
import { loadConfig } from '../platform/config';
import type { Config } from '../platform/config';
import { createLogger } from '../platform/logger';
import { migrate } from '../prisma/migrator';
import { startDevServer } from '../scripts/lib/temporal-dev-server';
import type { DevServer } from '../scripts/lib/temporal-dev-server';
import { freePort } from '../test/support/free-port';
import { apiClient } from '../test/support/http';
import { dropDatabase } from '../test/support/scratch-db';
import { WorkerProcess } from '../test/support/worker-process';

export const say = (line: string) => process.stdout.write(`${line}\n`);

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function p50p99(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`;
}

/** Runs `count` jobs, `concurrency` at a time; returns the seconds it took. */
export async function pool(
  count: number,
  concurrency: number,
  job: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

/** A process's resident memory, in MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/** CPU time (user + system) a process has used so far, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Starts counting the CPU time of named processes; the function it returns answers the seconds
 * each has used since.
 */
export function cpuSince<K extends string>(pids: Record<K, number>): () => Record<K, number> {
  const names = Object.keys(pids) as K[];
  const before = names.map((name) => cpuSeconds(pids[name]));
  return () =>
    Object.fromEntries(
      names.map((name, i) => [name, cpuSeconds(pids[name]) - before[i]!]),
    ) as Record<K, number>;
}

/**
 * The pid of a service the run shares with everything else on the machine (MariaDB, Redis), by
 * its program's name; undefined when none or several run.
 */
export function servicePid(program: string): number | undefined {
  try {
    const pids = execFileSync('pgrep', ['-x', program], { encoding: 'utf8' }).trim().split('\n');
    return pids.length === 1 ? Number(pids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** The machine's CPU times so far (/proc/stat, every core): busy and all, in clock ticks. */
function machineTicks(): { busy: number; all: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal …
  const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const all = t.reduce((a, b) => a + b, 0);
  return { busy: all - t[3]! - t[4]!, all };
}

/**
 * Starts watching how busy the whole machine is; the function it returns answers the share of
 * every core's time spent working since (0–1). A share near 1 means the run was bounded by the
 * CPU of everything on the machine, not by waiting.
 */
export function machineBusySince(): () => number {
  const before = machineTicks();
  return () => {
    const now = machineTicks();
    return (now.busy - before.busy) / Math.max(1, now.all - before.all);
  };
}

export function machine(): string {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load average ${load}; Temporal dev server (SQLite file), MariaDB, Redis on this machine`;
}

export interface BenchStack {
  temporal: DevServer;
  worker: WorkerProcess;
  databaseUrl: string;
  taskQueue: string;
  config: Config;
  deps: ReturnType<typeof createApiDeps>;
  apiUrl: string;
  token: string;
  http: ReturnType<typeof apiClient>;
  /** Adds an undo step, run before the stack's own. */
  onClose(step: () => Promise<unknown>): void;
}

const cleanups: Array<() => Promise<unknown>> = [];

async function cleanUp(): Promise<void> {
  for (const step of cleanups.reverse()) {
    await step().catch((err: unknown) => say(`cleanup: ${String(err)}`));
  }
  cleanups.length = 0;
}

/** How the benchmark's worker runs: compiled (as in production) or not, and its own variables. */
export interface BenchWorker {
  compiled?: boolean;
  env?: Record<string, string>;
}

/** Starts the stack; `overrides` adjust the API's config (e.g. a longer lease). */
async function startStack(overrides: Partial<Config>, workerRun: BenchWorker): Promise<BenchStack> {
  const base = loadConfig(process.env);
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'aiworker-bench-'));
  cleanups.push(() => Promise.resolve(rmSync(runDir, { recursive: true, force: true })));
  const temporal = await startDevServer({
    host: '127.0.0.1',
    port: await freePort(),
    namespace: 'default',
    uiPort: null,
    dbFile: path.join(runDir, 'temporal.sqlite'),
  });
  cleanups.push(() => temporal.stop());
  const dbUrl = new URL(base.databaseUrl);
  dbUrl.pathname = `${dbUrl.pathname}_bench_${randomBytes(3).toString('hex')}`;
  const databaseUrl = dbUrl.toString();
  cleanups.push(() => dropDatabase(databaseUrl));
  await migrate(databaseUrl);
  const taskQueue = `bench-${randomBytes(3).toString('hex')}`;
  const worker = new WorkerProcess(
    {
      TEMPORAL_ADDRESS: temporal.address,
      DATABASE_URL: databaseUrl,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ...workerRun.env,
    },
    { compiled: workerRun.compiled },
  );
  cleanups.push(() => worker.stop());
  await worker.start();
  const config: Config = {
    ...base,
    ...overrides,
    databaseUrl,
    temporal: { ...base.temporal, address: temporal.address, taskQueue },
  };
  const token = randomBytes(24).toString('hex');
  const deps = createApiDeps(config, createLogger({ logLevel: 'warn' }), token);
  cleanups.push(() => deps.close());
  const api = await startApiServer(deps, '127.0.0.1', 0);
  cleanups.push(() => api.close());
  return {
    temporal,
    worker,
    databaseUrl,
    taskQueue,
    config,
    deps,
    apiUrl: api.url,
    token,
    http: apiClient(api.url, token),
    onClose: (step) => cleanups.push(step),
  };
}

/** Runs a benchmark on a fresh stack and exits 0 or 1 once everything it started is stopped. */
export function runBench(
  body: (stack: BenchStack) => Promise<void>,
  overrides: Partial<Config> = {},
  worker: BenchWorker = {},
): void {
  process.once('SIGINT', () => {
    void cleanUp().finally(() => process.exit(130));
  });
  startStack(overrides, worker)
    .then(body)
    .then(
      async () => {
        await cleanUp();
        process.exit(0);
      },
      async (err: unknown) => {
        process.stderr.write(
          `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
        await cleanUp();
        process.exit(1);
      },
    )
    .catch(() => process.exit(1));
}
