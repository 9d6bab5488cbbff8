// `npm run worker`: runs workflows and activities until SIGINT/SIGTERM, then drains and exits.
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../platform/config';
import { temporalConnectionOptions } from '../platform/temporal';
import { createLogger } from '../platform/logger';
import { ensurePreviewCleanupSchedule } from '../platform/schedules';
import { ensureSearchAttributes } from '../platform/search-attributes';
import { temporalLogger } from '../platform/temporal-logger';
import { startTracing } from '../platform/tracing';
import { createWorker } from './create-worker';
import { createWorkerDeps } from './deps';
import { startWorkerHealth } from './health';
import { freeLoopbackPort } from './metrics';
import { runTaskSweeps } from './stuck-tasks';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  // Only the API checks the admin token. The worker runs branches' code as previews, so it keeps
  // no copy of it, even one a shared .env file brought in (its children inherit process.env).
  delete process.env.AIWORKER_ADMIN_TOKEN;
  delete process.env.AIWORKER_METRICS_TOKEN;
  const root = createLogger(config);
  const logger = root.child({ scope: 'worker' });
  // The SDK core exports its own metrics on loopback only; the health port's /metrics serves them
  // with aiworker's, behind the metrics token (worker/metrics.ts).
  const coreMetrics =
    config.metricsToken !== undefined && config.workerHealthPort !== undefined
      ? `127.0.0.1:${await freeLoopbackPort()}`
      : null;
  Runtime.install({
    logger: temporalLogger(root.child({ scope: 'worker.sdk' })),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(coreMetrics && {
        metrics: {
          prometheus: {
            bindAddress: coreMetrics,
            // Prometheus's conventions: counters end in _total, durations in _seconds.
            countersTotalSuffix: true,
            unitSuffix: true,
            useSecondsForDurations: true,
          },
        },
      }),
    },
  });
  const admin = await Connection.connect(temporalConnectionOptions(config));
  const added = await ensureSearchAttributes(admin, config.temporal.namespace);
  await ensurePreviewCleanupSchedule(admin, {
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    everyMs: config.previews.cleanupEveryMs,
  });
  if (added.length > 0) logger.info({ added }, 'registered search attributes');
  const deps = createWorkerDeps(config, root);
  const tracing = startTracing(config, 'aiworker-worker');
  const { worker, connection } = await createWorker(
    config,
    deps,
    config.workflowBundle ? { codePath: config.workflowBundle } : undefined,
  );
  const health =
    config.workerHealthPort === undefined
      ? null
      : await startWorkerHealth(worker, config.host, config.workerHealthPort, {
          token: config.metricsToken,
          coreUrl: coreMetrics && `http://${coreMetrics}/metrics`,
        });
  // Tasks written without a workflow get one; tasks whose workflow cannot make progress are
  // marked, reported and skipped by agents.
  const sweeps = new AbortController();
  const swept = runTaskSweeps(
    {
      client: new Client({ connection: admin, namespace: config.temporal.namespace }),
      db: deps.db,
      redis: deps.redis,
      emitter: deps.emitter,
      logger: root.child({ scope: 'worker.sweeps' }),
      taskQueue: config.temporal.taskQueue,
    },
    config.stuckSweepEveryMs,
    sweeps.signal,
  );
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
    sweeps.abort();
    await swept;
    health?.close();
    await admin.close();
    await connection.close();
    await deps.close();
    await tracing.shutdown();
    logger.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
