// Prints the database and Redis coordinates from aiworker's configuration as shell assignments,
// for scripts/lib/services.sh. Values are shell-quoted; nothing is printed to logs.
import { mariadbOptions } from '../../db/url';
import { loadConfigOrExit } from '../../platform/config';

const config = loadConfigOrExit();
const db = mariadbOptions(config.databaseUrl);
const redis = new URL(config.redisUrl);
const quote = (v: string | number) => `'${String(v).replace(/'/g, `'\\''`)}'`;
const vars: Record<string, string | number> = {
  DB_HOST: db.host,
  DB_PORT: db.port,
  DB_USER: db.user,
  DB_PASSWORD: db.password,
  DB_NAME: db.database ?? '',
  REDIS_HOST: redis.hostname,
  REDIS_PORT: redis.port || 6379,
};
process.stdout.write(
  Object.entries(vars)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join('\n') + '\n',
);
