import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Logger } from '@temporalio/worker';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../platform/config';
import { migrate } from '../../prisma/migrator';
import { startDevServer } from '../../scripts/lib/temporal-dev-server';
import { WORKFLOWS_PATH } from '../../worker/create-worker';
import { freePort } from '../support/free-port';
import { saveHarness } from './state';

/** History length at which the test server suggests continue-as-new. */
const CONTINUE_AS_NEW_AFTER_EVENTS = 40;

const quiet = () => undefined;
const quietBundlerLogger: Logger = {
  log: quiet,
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: quiet,
  error: quiet,
};

/**
 * Once per `jest` run: a real Temporal dev server (from the local CLI, on a free port, with its
 * SQLite file in a temporary folder) and a throwaway MariaDB database with every migration
 * applied. Test files find them through TEMPORAL_ADDRESS and DATABASE_URL.
 */
export default async function globalSetup(): Promise<void> {
  const base = loadConfig(process.env);
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'aiworker-test-'));
  const port = await freePort();
  const temporal = await startDevServer({
    host: '127.0.0.1',
    port,
    namespace: base.temporal.namespace,
    uiPort: null,
    dbFile: path.join(runDir, 'temporal.sqlite'),
    logFile: path.join(runDir, 'temporal.log'),
    // Temporal suggests continue-as-new after a few dozen events instead of thousands, so every
    // test that drives a task through its lifecycle also crosses into new runs.
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': CONTINUE_AS_NEW_AFTER_EVENTS },
  });
  const dbUrl = new URL(base.databaseUrl);
  dbUrl.pathname = `/${dbUrl.pathname.slice(1) || 'aiworker'}_test_${randomBytes(4).toString('hex')}`;
  const databaseUrl = dbUrl.toString();
  try {
    await migrate(databaseUrl);
  } catch (err) {
    await temporal.stop();
    throw err;
  }
  // Workers in tests share one workflow bundle instead of each bundling the code again.
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: quietBundlerLogger,
  });
  const bundlePath = path.join(runDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  process.env.AIWORKER_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.TEMPORAL_DEV_SERVER = 'off';
  process.env.DATABASE_URL = databaseUrl;
  process.env.AIWORKER_DATA_DIR = path.join(runDir, 'data');
  process.env.AIWORKER_TEST_RUN_DIR = runDir;
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'warn';
  saveHarness({ stopTemporal: () => temporal.stop(), databaseUrl, runDir });
}
