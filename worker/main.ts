// `npm run worker`: runs workflows and activities until SIGINT/SIGTERM, then drains and exits.
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../platform/config';
import { createLogger } from '../platform/logger';
import { ensurePreviewCleanupSchedule } from '../platform/schedules';
import { ensureSearchAttributes } from '../platform/search-attributes';
import { temporalLogger } from '../platform/temporal-logger';
import { createWorker } from './create-worker';
import { createWorkerDeps } from './deps';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const root = createLogger(config);
  const logger = root.child({ scope: 'worker' });
  Runtime.install({
    logger: temporalLogger(root.child({ scope: 'worker.sdk' })),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
  const admin = await Connection.connect({ address: config.temporal.address });
  const added = await ensureSearchAttributes(admin, config.temporal.namespace);
  await ensurePreviewCleanupSchedule(admin, {
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    everyMs: config.previews.cleanupEveryMs,
  }).finally(() => admin.close());
  if (added.length > 0) logger.info({ added }, 'registered search attributes');
  const deps = createWorkerDeps(config, root);
  const { worker, connection } = await createWorker(config, deps);
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      temporal: config.temporal.address,
      namespace: config.temporal.namespace,
    },
    'worker polling',
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
    await deps.close();
    logger.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
