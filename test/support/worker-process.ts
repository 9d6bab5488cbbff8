import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DIST_DIR, NODE_ENV_VARS, NODE_FLAGS, REPO_ROOT } from '../../platform/config';
import { signalAndWait } from './processes';

/**
 * `npm run worker` as a real separate process, so a test can SIGKILL it: the sources through tsx
 * with the run's workflow bundle, or with `compiled` the build in dist/ with its own bundle.
 */
export class WorkerProcess {
  private child: ChildProcess | undefined;

  /** The running worker's process id. */
  get pid(): number | undefined {
    return this.child?.pid;
  }
  private output = '';

  constructor(
    private readonly env: Record<string, string>,
    private readonly options: { compiled?: boolean } = {},
  ) {}

  /** Starts the worker and resolves once it polls its task queue. */
  async start(): Promise<void> {
    this.output = '';
    const child = spawn(
      process.execPath,
      this.options.compiled
        ? [...NODE_FLAGS, path.join(DIST_DIR, 'worker', 'main.js')]
        : ['--import', 'tsx', path.join(REPO_ROOT, 'worker', 'main.ts')],
      {
        cwd: REPO_ROOT,
        env: {
          // The compiled build runs as in production (`npm start`).
          ...(this.options.compiled ? NODE_ENV_VARS : {}),
          ...process.env,
          LOG_LEVEL: 'info',
          // The run's workflow bundle: a restart takes seconds, not a bundling's worth.
          ...(process.env.AIWORKER_TEST_WORKFLOW_BUNDLE && !this.options.compiled
            ? { AIWORKER_WORKFLOW_BUNDLE: process.env.AIWORKER_TEST_WORKFLOW_BUNDLE }
            : {}),
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes('"worker polling"')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) =>
        reject(new Error(`worker exited with ${code} during start-up:\n${this.output}`)),
      );
    });
  }

  /** Kills the worker without warning (no drain, no cleanup) and waits until it is gone. */
  async kill(): Promise<void> {
    await signalAndWait(this.child, 'SIGKILL');
  }

  /** Asks the worker to stop (SIGTERM: it finishes what it runs, then exits). */
  async stop(): Promise<void> {
    await signalAndWait(this.child, 'SIGTERM');
  }
}
