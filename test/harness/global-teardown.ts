import { rmSync } from 'node:fs';
import path from 'node:path';
import mariadb from 'mariadb';
import { createLocalRuntime } from '../../activities/preview/local';
import { mariadbOptions } from '../../db/url';
import { takeHarness } from './state';

/**
 * Stops the run's Temporal server, drops its database, and stops any preview a test left
 * running in the run's data folder (previews are detached processes that outlive a worker).
 */
export default async function globalTeardown(): Promise<void> {
  const state = takeHarness();
  if (!state) return;
  await state.stopTemporal();
  const previews = createLocalRuntime({ previewsDir: path.join(state.runDir, 'data', 'previews') });
  for (const preview of await previews.list()) await previews.teardown(preview.name);
  const { database, ...server } = mariadbOptions(state.databaseUrl);
  const conn = await mariadb.createConnection(server);
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
  if (!process.env.AIWORKER_KEEP_TEST_RUN) rmSync(state.runDir, { recursive: true, force: true });
}
