import { readFileSync } from 'node:fs';

/**
 * Connection settings for the mariadb driver, from a `mysql://` or `mariadb://` URL. TLS is asked
 * for with query parameters: `ssl=true` (verify the server against the system's CAs), `sslca`,
 * `sslcert`, `sslkey` (files: a private CA, a client certificate for mutual TLS) and
 * `sslrejectunauthorized=false` (encrypt without verifying: for testing only).
 */
export function mariadbOptions(databaseUrl: string) {
  const url = new URL(databaseUrl);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const q = url.searchParams;
  const file = (name: string) => {
    const value = q.get(name);
    return value ? readFileSync(value) : undefined;
  };
  const wantsTls =
    ['ssl', 'sslca', 'sslcert', 'sslkey'].some((k) => q.has(k)) && q.get('ssl') !== 'false';
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: database || undefined,
    ...(wantsTls
      ? {
          ssl: {
            ca: file('sslca'),
            cert: file('sslcert'),
            key: file('sslkey'),
            rejectUnauthorized: q.get('sslrejectunauthorized') !== 'false',
          },
        }
      : {}),
  };
}
