import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { REPO_ROOT } from '../../platform/config';
import { migrate } from '../../prisma/migrator';
import { Supervisor } from '../../scripts/lib/supervisor';
import type { Part, Running } from '../../scripts/lib/supervisor';
import { startDevServer } from '../../scripts/lib/temporal-dev-server';
import { WORKFLOW_BUNDLE_OPTIONS } from '../../worker/create-worker';
import { quietBundlerLogger } from '../harness/services';
import { freePort } from '../support/free-port';
import { PrivateMariaDb } from '../support/mariadb-server';
import { isAlive } from '../support/processes';

/** The parts of the stack a fault can hit. */
export const PART_NAMES = [
  'temporal',
  'mariadb',
  'redis',
  'worker-1',
  'worker-2',
  'api-1',
  'api-2',
] as const;
export type PartName = (typeof PART_NAMES)[number];

/** Restarts come fast here: the supervisor is what brings a killed part back. */
const CHAOS_POLICY = {
  fastCrashMs: 10_000,
  maxFastCrashes: 30,
  backoffMs: 500,
  maxBackoffMs: 4000,
};

interface Tracked {
  pid: number | undefined;
  /** When the part last became ready (after a start or a restart). */
  readyAt: number;
  starts: number;
}

/**
 * aiworker on its own services, each part supervised as `npm start` does: a Temporal dev server
 * (SQLite file), MariaDB and Redis of its own, two workers and two API processes on fixed ports.
 * A part killed with SIGKILL is started again by the supervisor, with no one's help.
 */
export class ChaosStack {
  readonly apiUrls: string[] = [];
  databaseUrl = '';
  temporalAddress = '';
  readonly adminToken = randomBytes(24).toString('hex');
  private readonly tracked = new Map<PartName, Tracked>();
  private readonly supervisor: Supervisor;
  private gaveUp: string | null = null;
  readonly said: string[] = [];

  /** Kills what is left if the process running the stack exits without stopping it. */
  private readonly killLeftovers = () => {
    for (const { pid } of this.tracked.values()) {
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  };

  private constructor(readonly dir: string) {
    process.once('exit', this.killLeftovers);
    this.supervisor = new Supervisor(
      (line) => this.said.push(`${new Date().toISOString()} ${line}`),
      (why) => (this.gaveUp = why),
      CHAOS_POLICY,
    );
  }

  /** Starts everything and resolves once both APIs are ready (a worker polls, every dependency answers). */
  static async start(): Promise<ChaosStack> {
    const stack = new ChaosStack(mkdtempSync(path.join(os.tmpdir(), 'aiworker-chaos-')));
    try {
      await stack.boot();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  private async boot(): Promise<void> {
    const dir = this.dir;
    const [temporalPort, redisPort, api1, api2] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const mariadb = await PrivateMariaDb.create(path.join(dir, 'mariadb'));
    const databaseUrl = mariadb.url('aiworker');
    this.databaseUrl = databaseUrl;
    this.temporalAddress = `127.0.0.1:${temporalPort}`;
    // Under jest, the run's bundle; on its own, one made here. Either way workers restart fast.
    let bundlePath = process.env.AIWORKER_TEST_WORKFLOW_BUNDLE;
    if (!bundlePath) {
      const bundle = await bundleWorkflowCode({
        ...WORKFLOW_BUNDLE_OPTIONS,
        logger: quietBundlerLogger,
      });
      bundlePath = path.join(dir, 'workflow-bundle.js');
      writeFileSync(bundlePath, bundle.code);
    }

    await this.supervisor.add(
      this.part('temporal', async () => {
        const server = await startDevServer({
          host: '127.0.0.1',
          port: temporalPort,
          namespace: 'default',
          uiPort: null,
          dbFile: path.join(dir, 'temporal.sqlite'),
          logFile: path.join(dir, 'temporal.log'),
        });
        return {
          pid: server.process.pid,
          exited: endOf(server.process),
          stop: () => server.stop(),
        };
      }),
    );
    await this.supervisor.add(
      this.part('mariadb', async () => {
        const { ended } = await mariadb.start();
        return { pid: mariadb.pid, exited: ended, stop: () => mariadb.stop() };
      }),
    );
    await migrate(databaseUrl);
    await this.supervisor.add(
      this.part('redis', () =>
        this.spawnReady(
          'redis-server',
          ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
          {},
          'Ready to accept connections',
          'redis',
        ),
      ),
    );
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_DEV_SERVER: 'off',
      DATABASE_URL: databaseUrl,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      AIWORKER_DATA_DIR: path.join(dir, 'data'),
      AIWORKER_ADMIN_TOKEN: this.adminToken,
      AIWORKER_WORKFLOW_BUNDLE: bundlePath,
      // Info: the lines that say a process is ready ("worker polling", "api listening").
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      // Many agents share one address and one admin token here.
      AIWORKER_AUTH_FAILURES_PER_MINUTE: '100000',
      AIWORKER_AGENT_REQUESTS_PER_SECOND: '10000',
      AIWORKER_AGENT_CONCURRENT_REQUESTS: '1000',
      AIWORKER_PROGRESS_INTERVAL_SECONDS: '0',
    };
    const node = (entry: string) => ['--import', 'tsx', path.join(REPO_ROOT, entry)];
    await Promise.all(
      (['worker-1', 'worker-2'] as const).map((name) =>
        this.supervisor.add(
          this.part(name, () =>
            this.spawnReady(
              process.execPath,
              node('worker/main.ts'),
              env,
              '"worker polling"',
              name,
            ),
          ),
        ),
      ),
    );
    for (const [name, port] of [
      ['api-1', api1],
      ['api-2', api2],
    ] as const) {
      const url = `http://127.0.0.1:${port}`;
      this.apiUrls.push(url);
      await this.supervisor.add(
        this.part(name, () =>
          this.spawnReady(
            process.execPath,
            node('api/main.ts'),
            { ...env, PORT: String(port), AIWORKER_PUBLIC_URL: url },
            '"api listening"',
            name,
          ),
        ),
      );
    }
    await this.waitReady(120_000);
  }

  /** A supervised part whose start is tracked (its pid, when it became ready). */
  private part(name: PartName, start: () => Promise<Running & { pid: number | undefined }>): Part {
    return {
      name,
      start: async () => {
        const running = await start();
        const previous = this.tracked.get(name);
        this.tracked.set(name, {
          pid: running.pid,
          readyAt: Date.now(),
          starts: (previous?.starts ?? 0) + 1,
        });
        return running;
      },
    };
  }

  /** Spawns a process whose output goes to `<dir>/<log>.log`; ready once a line contains `ready`. */
  private spawnReady(
    command: string,
    args: string[],
    env: Record<string, string>,
    ready: string,
    log: string,
  ): Promise<Running & { pid: number | undefined }> {
    const file = openSync(path.join(this.dir, `${log}.log`), 'a');
    closeSync(file);
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = endOf(child);
    return new Promise((resolve, reject) => {
      let seen = '';
      let isReady = false;
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        writeFileSync(path.join(this.dir, `${log}.log`), text, { flag: 'a' });
        if (isReady) return;
        seen = (seen + text).slice(-4096);
        if (seen.includes(ready)) {
          isReady = true;
          resolve({ pid: child.pid, exited, stop: () => stopChild(child, exited) });
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((how) => {
        if (!isReady)
          reject(new Error(`${log} ended during start-up (${how}): ${seen.slice(-500)}`));
      });
    });
  }

  /** The process id of a part now (undefined while it is down). */
  pid(name: PartName): number | undefined {
    return this.tracked.get(name)?.pid;
  }

  /** SIGKILLs a part; the supervisor starts it again. Resolves with when it was killed. */
  kill(name: PartName): number {
    const pid = this.pid(name);
    if (pid === undefined) throw new Error(`${name} is not running`);
    process.kill(pid, 'SIGKILL');
    return Date.now();
  }

  /** Resolves with when a part became ready again after `since`. */
  async restarted(name: PartName, since: number, timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const tracked = this.tracked.get(name);
      if (tracked && tracked.readyAt > since) return tracked.readyAt;
      if (this.gaveUp) throw new Error(`the supervisor gave up: ${this.gaveUp}`);
      if (Date.now() > deadline) {
        throw new Error(
          `${name} did not come back within ${timeoutMs} ms: ${this.said.join('; ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves once every API answers `/readyz` with 200. */
  async waitReady(timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const answers = await Promise.all(
        this.apiUrls.map((url) =>
          fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) }).then(
            async (res) => (res.ok ? null : `${url}: ${await res.text()}`),
            (err: Error) => `${url}: ${err.message}`,
          ),
        ),
      );
      const notReady = answers.filter((a) => a !== null);
      if (notReady.length === 0) return Date.now();
      last = notReady.join('; ');
      if (this.gaveUp) throw new Error(`the supervisor gave up: ${this.gaveUp}`);
      if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Whether each part's process is alive now. */
  runningParts(): Array<{ name: PartName; running: boolean }> {
    return PART_NAMES.map((name) => {
      const pid = this.pid(name);
      return { name, running: pid !== undefined && isAlive(pid) };
    });
  }

  /** How many times each part was started (1: never restarted). */
  starts(): Record<string, number> {
    return Object.fromEntries([...this.tracked].map(([name, t]) => [name, t.starts]));
  }

  async stop(): Promise<void> {
    await this.supervisor.stopAll([...PART_NAMES]);
    process.removeListener('exit', this.killLeftovers);
    if (!process.env.AIWORKER_KEEP_CHAOS_RUN) rmSync(this.dir, { recursive: true, force: true });
  }
}

function endOf(child: ChildProcess): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(
      child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`,
    );
  }
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)),
  );
}

async function stopChild(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
