import path from 'node:path';
import { ConfigError } from './errors';
import { loadConfig, redactUrl, REPO_ROOT } from './config';

describe('loadConfig', () => {
  it('gives the one-machine defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      dataDir: path.join(REPO_ROOT, '.data'),
      adminToken: undefined,
      temporal: {
        address: '127.0.0.1:7233',
        namespace: 'default',
        uiPort: 8233,
        devServer: 'auto',
      },
      redisUrl: 'redis://127.0.0.1:6379',
      logLevel: 'info',
    });
    expect(config.databaseUrl).toMatch(/^mysql:\/\/.*@127\.0\.0\.1:3306\/aiworker$/);
  });

  it('reads and converts what the environment sets', () => {
    const config = loadConfig({
      PORT: '8080',
      TEMPORAL_ADDRESS: 'temporal-frontend:7233',
      TEMPORAL_NAMESPACE: 'aiworker',
      DATABASE_URL: 'mysql://u:p@db:3306/x',
      REDIS_URL: 'redis://cache:6380',
      AIWORKER_ADMIN_TOKEN: 'a'.repeat(32),
      AIWORKER_DATA_DIR: '/var/lib/aiworker',
      LOG_LEVEL: 'debug',
    });
    expect(config.port).toBe(8080);
    expect(config.temporal.address).toBe('temporal-frontend:7233');
    expect(config.temporal.namespace).toBe('aiworker');
    expect(config.dataDir).toBe('/var/lib/aiworker');
    expect(config.adminToken).toBe('a'.repeat(32));
    expect(config.logLevel).toBe('debug');
  });

  it('lists every problem at once, naming each variable', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        TEMPORAL_ADDRESS: 'no-port',
        REDIS_URL: 'http://cache',
        LOG_LEVEL: 'loud',
        TEMPORAL_UI_PORT: '70000',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'TEMPORAL_ADDRESS', 'REDIS_URL', 'LOG_LEVEL', 'TEMPORAL_UI_PORT']) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect((error as ConfigError).message).toContain('PORT: expected');
  });

  it('trusts no proxy unless told which, and refuses what is not an address', () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(
      loadConfig({ AIWORKER_TRUSTED_PROXIES: ' 10.0.0.0/8, Loopback ' }).trustedProxies,
    ).toEqual(['10.0.0.0/8', 'loopback']);
    expect(() => loadConfig({ AIWORKER_TRUSTED_PROXIES: 'true' })).toThrow(
      'AIWORKER_TRUSTED_PROXIES: expected addresses separated by commas: "true" is not an address',
    );
  });

  it('reads the preview sandbox and ingress settings, refusing what it cannot use', () => {
    const config = loadConfig({
      AIWORKER_PREVIEW_SANDBOX: 'none',
      AIWORKER_PREVIEW_UID_BASE: '300000',
      PREVIEW_INGRESS_NAMESPACE_SELECTOR: 'team.example/ingress=yes, tier=edge',
    });
    expect(config.previews.sandbox).toEqual({ mode: 'none', uidBase: 300_000, uidCount: 1000 });
    expect(config.previews.ingressNamespaceSelector).toEqual({
      'team.example/ingress': 'yes',
      tier: 'edge',
    });
    expect(loadConfig({}).previews.ingressNamespaceSelector).toBeUndefined();
    let error: unknown;
    try {
      loadConfig({
        AIWORKER_PREVIEW_SANDBOX: 'off',
        AIWORKER_PREVIEW_UID_BASE: '1000',
        PREVIEW_INGRESS_NAMESPACE_SELECTOR: 'ingress',
      });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^PREVIEW_INGRESS_NAMESPACE_SELECTOR: expected key=value/),
      expect.stringMatching(/^AIWORKER_PREVIEW_SANDBOX: expected bwrap/),
      expect.stringMatching(/^AIWORKER_PREVIEW_UID_BASE: expected at least 65536/),
    ]);
  });

  it('never echoes the value of a secret in its errors', () => {
    const secretToken = 'short-secret';
    const secretUrl = 'postgres://admin:hunter2@db/x';
    let message = '';
    try {
      loadConfig({ AIWORKER_ADMIN_TOKEN: secretToken, DATABASE_URL: secretUrl });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('AIWORKER_ADMIN_TOKEN');
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain(secretToken);
    expect(message).not.toContain('hunter2');
  });
});

describe('redactUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(redactUrl('mysql://aiworker:s3cret@127.0.0.1:3306/aiworker')).toBe(
      'mysql://aiworker:***@127.0.0.1:3306/aiworker',
    );
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
