import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Logger } from '@temporalio/worker';
import { createLocalRuntime } from '../../activities/preview/local';
import { loadConfig } from '../../platform/config';
import { migrate } from '../../prisma/migrator';
import { startDevServer } from '../../scripts/lib/temporal-dev-server';
import { WORKFLOW_BUNDLE_OPTIONS } from '../../worker/create-worker';
import { freePort } from '../support/free-port';
import { dropDatabase } from '../support/scratch-db';

const quiet = () => undefined;
/** The bundler's own chatter (webpack statistics) is of no use in tests. */
export const quietBundlerLogger: Logger = {
  log: quiet,
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: quiet,
  error: quiet,
};

/** What one run of tests (or of the corpus capture) shares: one Temporal server, one database. */
export interface RunServices {
  temporalAddress: string;
  databaseUrl: string;
  /** A temporary folder of the run's own: Temporal's SQLite file and log, the data folder. */
  runDir: string;
  /** The current workflow code, bundled once for every worker of the run. */
  bundlePath: string;
  /** The environment that points aiworker's config at these services. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts a real Temporal dev server (from the local CLI, on a free port, with its SQLite file in
 * a temporary folder) and creates a throwaway MariaDB database with every migration applied.
 * `continueAsNewAfterEvents` lowers the history length at which Temporal suggests
 * continue-as-new, so short scenarios also cross into new runs.
 */
export async function startRunServices(opts: {
  tag: string;
  continueAsNewAfterEvents: number;
}): Promise<RunServices> {
  const base = loadConfig(process.env);
  const runDir = mkdtempSync(path.join(os.tmpdir(), `aiworker-${opts.tag}-`));
  // Previews run as users of their own when the tests run as root; they must reach their
  // checkouts in the data folder (searchable, not listable).
  chmodSync(runDir, 0o711);
  const temporal = await startDevServer({
    host: '127.0.0.1',
    port: await freePort(),
    namespace: base.temporal.namespace,
    uiPort: null,
    dbFile: path.join(runDir, 'temporal.sqlite'),
    logFile: path.join(runDir, 'temporal.log'),
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': opts.continueAsNewAfterEvents },
  });
  const dbUrl = new URL(base.databaseUrl);
  dbUrl.pathname = `/${dbUrl.pathname.slice(1) || 'aiworker'}_${opts.tag}_${randomBytes(4).toString('hex')}`;
  const databaseUrl = dbUrl.toString();
  try {
    await migrate(databaseUrl);
  } catch (err) {
    await temporal.stop();
    throw err;
  }
  const bundle = await bundleWorkflowCode({
    ...WORKFLOW_BUNDLE_OPTIONS,
    logger: quietBundlerLogger,
  });
  const bundlePath = path.join(runDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  const dataDir = path.join(runDir, 'data');
  return {
    temporalAddress: temporal.address,
    databaseUrl,
    runDir,
    bundlePath,
    env: {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_DEV_SERVER: 'off',
      DATABASE_URL: databaseUrl,
      AIWORKER_DATA_DIR: dataDir,
    },
    async stop() {
      await temporal.stop();
      // Previews are detached processes that outlive a worker: stop those left in the data folder.
      const previews = createLocalRuntime({ previewsDir: path.join(dataDir, 'previews') });
      for (const preview of await previews.list()) await previews.teardown(preview.name);
      await dropDatabase(databaseUrl);
      if (!process.env.AIWORKER_KEEP_TEST_RUN) rmSync(runDir, { recursive: true, force: true });
    },
  };
}
