// Tests run against real services: the harness starts one Temporal dev server and creates one
// throwaway MariaDB database per run (test/harness), and uses the local Redis.
// Packages published only as ES modules (the Kubernetes client and what it loads): jest on Node 20
// loads test code as CommonJS, so these are compiled like our own sources.
const ESM_ONLY = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'socks-proxy-agent',
  'agent-base',
];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/.tools/', '/.data/', '/generated/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/.data/', '<rootDir>/.tools/', '<rootDir>/dist/'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
    [`/node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: [
      '@swc/jest',
      { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/harness/summary-reporter.cjs'],
};
