import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Runtime } from '@temporalio/worker';
import { createLogger } from '../../platform/logger';
import { temporalLogger } from '../../platform/temporal-logger';
import { createWorker } from '../../worker/create-worker';
import { createWorkerDeps } from '../../worker/deps';
import type { TestApiOptions } from './api';
import { testConfig } from './api';

/** A task queue of a test's own, so its worker and API see no other test's work. */
export function uniqueTaskQueue(tag: string): string {
  return `test-${tag}-${randomBytes(4).toString('hex')}`;
}

let runtimeInstalled = false;
let running = 0;

/**
 * A real worker in this test process, on the run's Temporal server, with the run's workflow bundle
 * (or `bundlePath`: another release's workflow code).
 */
export async function startTestWorker(
  opts: TestApiOptions & { taskQueue: string; bundlePath?: string },
): Promise<{ stop(): Promise<void>; warnings(): string[] }> {
  const config = testConfig(opts);
  if (!runtimeInstalled) {
    // The SDK's own logs go nowhere unless a test asks for them (LOG_LEVEL=debug).
    const sdkSink = new Writable({
      write: (chunk: Buffer, _e, done) => (
        process.env.LOG_LEVEL === 'debug' && process.stderr.write(chunk),
        done()
      ),
    });
    Runtime.install({ logger: temporalLogger(createLogger({ logLevel: 'warn' }, sdkSink)) });
    runtimeInstalled = true;
  }
  // Warnings and errors are kept, for a test to show when it fails.
  const lines: string[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()),
  });
  const deps = createWorkerDeps(config, createLogger({ logLevel: 'warn' }, sink));
  const { worker, connection } = await createWorker(config, deps, {
    codePath: opts.bundlePath ?? process.env.AIWORKER_TEST_WORKFLOW_BUNDLE!,
  });
  const run = worker.run();
  running += 1;
  return {
    warnings: () => lines.slice(-20),
    async stop() {
      worker.shutdown();
      await run;
      await connection.close();
      await deps.close();
      running -= 1;
      // The SDK's native runtime would keep this process alive after the last worker.
      if (running === 0) {
        await Runtime.instance().shutdown();
        runtimeInstalled = false;
      }
    },
  };
}
