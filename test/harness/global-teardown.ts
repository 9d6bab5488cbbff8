import { rmSync } from 'node:fs';
import mariadb from 'mariadb';
import { mariadbOptions } from '../../db/url';
import { takeHarness } from './state';

/** Stops the run's Temporal server and drops its database. */
export default async function globalTeardown(): Promise<void> {
  const state = takeHarness();
  if (!state) return;
  await state.stopTemporal();
  const { database, ...server } = mariadbOptions(state.databaseUrl);
  const conn = await mariadb.createConnection(server);
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
  if (!process.env.AIWORKER_KEEP_TEST_RUN) rmSync(state.runDir, { recursive: true, force: true });
}
