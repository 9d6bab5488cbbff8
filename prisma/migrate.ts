// `npm run migrate`: creates the database if needed and applies pending migrations.
import { loadConfigOrExit, redactUrl } from '../platform/config';
import { migrate } from './migrator';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const report = await migrate(config.databaseUrl);
  const target = redactUrl(config.databaseUrl);
  if (report.applied.length === 0) {
    console.log(`migrations: ${target} is up to date (${report.alreadyApplied.length} applied)`);
  } else {
    console.log(`migrations: applied ${report.applied.join(', ')} to ${target}`);
  }
}

main().catch((err: unknown) => {
  console.error(`migrations: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
