import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DIST_DIR, NODE_ENV_VARS, NODE_FLAGS, REPO_ROOT } from '../../platform/config';
import { freePort } from './free-port';
import { signalAndWait } from './processes';

/**
 * `npm run api` as a real separate process on a free port, over the run's services: the sources
 * through tsx, or with `compiled` the build in dist/.
 */
export class ApiProcess {
  private child: ChildProcess | undefined;
  private output = '';
  url = '';

  constructor(
    private readonly env: Record<string, string>,
    private readonly options: { compiled?: boolean } = {},
  ) {}

  /** Starts the API and resolves once it listens. */
  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const child = spawn(
      process.execPath,
      this.options.compiled
        ? [...NODE_FLAGS, path.join(DIST_DIR, 'api', 'main.js')]
        : ['--import', 'tsx', path.join(REPO_ROOT, 'api', 'main.ts')],
      {
        cwd: REPO_ROOT,
        env: {
          // The compiled build runs as in production (`npm start`).
          ...(this.options.compiled ? NODE_ENV_VARS : {}),
          ...process.env,
          LOG_LEVEL: 'info',
          HOST: '127.0.0.1',
          PORT: String(port),
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes('"api listening"')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) =>
        reject(new Error(`api exited with ${code} during start-up:\n${this.output}`)),
      );
    });
  }

  /** The running API's process id. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What the process wrote so far. */
  logs(): string {
    return this.output;
  }

  /** Kills the API without warning (no drain, no cleanup) and waits until it is gone. */
  async kill(): Promise<void> {
    await signalAndWait(this.child, 'SIGKILL');
  }

  async stop(): Promise<void> {
    await signalAndWait(this.child, 'SIGTERM');
  }
}
