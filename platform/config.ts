import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { TASK_QUEUE } from '../contracts/task-queue';
import { ConfigError } from './errors';
import { trustedProxyProblem } from './client-address';

/** Whether this is the compiled build (`npm run build`, under dist/), not TypeScript run by tsx. */
export const COMPILED = path.extname(__filename) === '.js';

/**
 * The repository (or image) root: defaults (data folder, local tools, the board's files) are
 * relative to it. The compiled build lives one folder deeper, in dist/.
 */
export const REPO_ROOT = path.resolve(__dirname, COMPILED ? '../..' : '..');

/**
 * How node runs the compiled entry points (`npm start`, `npm run worker`, the image, k8s): stack
 * traces name the TypeScript lines; a small young generation and a heap of at most 256 MiB keep
 * memory low (these processes wait on I/O, and V8 collects late under a limit sized from the
 * machine's memory; docs/performance.md, "Memory").
 */
export const NODE_FLAGS = [
  '--enable-source-maps',
  '--max-semi-space-size=2',
  '--max-old-space-size=256',
];

/**
 * The environment those processes start with: glibc's allocator keeps at most two arenas (one
 * per thread by default, up to 8 per core: the SDK's native threads left hundreds of MiB in
 * them; docs/performance.md, "Memory"). A value the operator sets wins.
 */
export const NODE_ENV_VARS: Record<string, string> = { MALLOC_ARENA_MAX: '2' };

/** Where `npm run build` writes the compiled server and the workflow bundle. */
export const DIST_DIR = path.join(REPO_ROOT, 'dist');

const port = z.coerce
  .number({ error: 'expected a port number' })
  .int('expected a whole number')
  .min(1, 'expected a port between 1 and 65535')
  .max(65535, 'expected a port between 1 and 65535');

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7233');

function urlWithScheme(schemes: string[], example: string) {
  return z.string().refine((value) => {
    try {
      return schemes.includes(new URL(value).protocol.replace(/:$/, ''));
    } catch {
      return false;
    }
  }, `expected a URL like ${example}`);
}

/** Variables whose values are secrets: never echoed back in errors or logs. */
export const SECRET_VARIABLES = new Set([
  'AIWORKER_ADMIN_TOKEN',
  'AIWORKER_METRICS_TOKEN',
  // Not configuration of these processes, but read by bin/aiworker-mcp and `npm run agent`.
  'AIWORKER_AGENT_TOKEN',
  'GITEA_TOKEN',
  'OIDC_CLIENT_SECRET',
  'ARGOCD_TOKEN',
  'DATABASE_URL',
  'REDIS_URL',
  'TEMPORAL_API_KEY',
]);

const wholeNumber = (min: number, max: number) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int('expected a whole number')
    .min(min, `expected at least ${min}`)
    .max(max, `expected at most ${max}`);

/**
 * How local previews are isolated. `bwrap`: each install and app runs in a bubblewrap sandbox
 * (the default). `none`: as plain processes of the worker's user, with its files and network;
 * unsafe, for machines where user namespaces are not available and every branch is trusted.
 */
export type SandboxMode = 'bwrap' | 'none';

/** The operator's sandbox settings for local previews. */
export interface SandboxSettings {
  mode: SandboxMode;
  /** First user id of the range previews run as when the worker runs as root. */
  uidBase: number;
  /** How many previews may run at once on this machine when the worker runs as root. */
  uidCount: number;
}

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  WORKER_HEALTH_PORT: port.optional(),
  AIWORKER_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  AIWORKER_DATA_DIR: z.string().min(1).default(path.join(REPO_ROOT, '.data')),
  AIWORKER_ADMIN_TOKEN: z
    .string()
    .min(24, 'must be at least 24 characters (generate one with `openssl rand -hex 24`)')
    .optional(),
  AIWORKER_METRICS_TOKEN: z
    .string()
    .min(24, 'must be at least 24 characters (generate one with `openssl rand -hex 24`)')
    .optional(),
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_TASK_QUEUE: z.string().min(1).max(200).default(TASK_QUEUE),
  TEMPORAL_DEV_SERVER: z.enum(['auto', 'on', 'off']).default('auto'),
  TEMPORAL_TLS: z.enum(['true', 'false']).default('false'),
  TEMPORAL_TLS_CA_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  DATABASE_URL: urlWithScheme(
    ['mysql', 'mariadb'],
    'mysql://user:password@127.0.0.1:3306/aiworker',
  ).default('mysql://aiworker:aiworker@127.0.0.1:3306/aiworker'),
  REDIS_URL: urlWithScheme(['redis', 'rediss'], 'redis://127.0.0.1:6379').default(
    'redis://127.0.0.1:6379',
  ),
  AIWORKER_QUESTION_REMINDER_SECONDS: z.coerce
    .number({ error: 'expected a number of seconds' })
    .int('expected a whole number of seconds')
    .min(1, 'expected at least 1 second')
    .default(86_400),
  AIWORKER_LEASE_SECONDS: z.coerce
    .number({ error: 'expected a number of seconds' })
    .int('expected a whole number of seconds')
    .min(1, 'expected at least 1 second')
    .default(1800),
  AIWORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number({ error: 'expected a number of workflows' })
    .int('expected a whole number')
    .min(0, 'expected 0 or more')
    .default(200),
  AIWORKER_STUCK_SWEEP_SECONDS: z.coerce
    .number({ error: 'expected a number of seconds' })
    .int('expected a whole number of seconds')
    .min(1, 'expected at least 1 second')
    .default(30),
  AIWORKER_AGENT_REQUESTS_PER_SECOND: z.coerce
    .number({ error: 'expected a number of requests' })
    .int('expected a whole number')
    .min(1, 'expected at least 1')
    .default(20),
  AIWORKER_AGENT_CONCURRENT_REQUESTS: z.coerce
    .number({ error: 'expected a number of requests' })
    .int('expected a whole number')
    .min(1, 'expected at least 1')
    .default(8),
  AIWORKER_AUTH_FAILURES_PER_MINUTE: z.coerce
    .number({ error: 'expected a number of attempts' })
    .int('expected a whole number')
    .min(1, 'expected at least 1')
    .default(30),
  AIWORKER_PROGRESS_INTERVAL_SECONDS: z.coerce
    .number({ error: 'expected a number of seconds' })
    .int('expected a whole number of seconds')
    .min(0, 'expected 0 or more seconds')
    .default(10),
  AIWORKER_WEBHOOK_RETRY_SECONDS: z.coerce
    .number({ error: 'expected a number of seconds' })
    .positive('expected more than 0 seconds')
    .default(10),
  AIWORKER_WEBHOOK_RETRY_MAX_SECONDS: z.coerce
    .number({ error: 'expected a number of seconds' })
    .positive('expected more than 0 seconds')
    .default(600),
  AIWORKER_WEBHOOK_GIVE_UP_HOURS: z.coerce
    .number({ error: 'expected a number of hours' })
    .positive('expected more than 0 hours')
    .default(24),
  OTEL_EXPORTER_OTLP_ENDPOINT: urlWithScheme(
    ['http', 'https'],
    'http://otel-collector:4318',
  ).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  AIWORKER_PUBLIC_URL: urlWithScheme(['http', 'https'], 'https://aiworker.example.com').optional(),
  AIWORKER_MCP_ALLOWED_HOSTS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      const hosts = text.split(',').map((t) => t.trim().toLowerCase());
      for (const host of hosts) {
        if (!/^(\[[0-9a-f:.]+\]|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)(:\d{1,5})?$/.test(host)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected host names, each with an optional :port, separated by commas: "${host}" is not one`,
          });
          return z.NEVER;
        }
      }
      return hosts;
    }),
  AIWORKER_TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return [];
      const entries = text.split(',').map((t) => t.trim().toLowerCase());
      for (const entry of entries) {
        const problem = trustedProxyProblem(entry);
        if (problem) {
          ctx.addIssue({
            code: 'custom',
            message: `expected addresses separated by commas: ${problem}`,
          });
          return z.NEVER;
        }
      }
      return entries;
    }),
  AIWORKER_GIT_BODY_LIMIT_MB: z.coerce
    .number({ error: 'expected a number of megabytes' })
    .positive('expected more than 0 megabytes')
    .max(16_384, 'expected at most 16384 megabytes')
    .default(256),
  PREVIEW_RUNTIME: z.enum(['local', 'kubernetes']).default('local'),
  PREVIEW_DOMAIN: z.string().min(1).default('preview.localhost'),
  PREVIEW_INGRESS_CLASS: z.string().min(1).optional(),
  PREVIEW_INGRESS_NAMESPACE_SELECTOR: z
    .string()
    .transform((text, ctx) => {
      const labels: Record<string, string> = {};
      for (const term of text.split(',').map((t) => t.trim())) {
        const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)=([-A-Za-z0-9_.]*)$/.exec(term);
        if (!m) {
          ctx.addIssue({ code: 'custom', message: `expected key=value,...: "${term}" is not` });
          return z.NEVER;
        }
        labels[m[1]!] = m[2]!;
      }
      return labels;
    })
    .optional(),
  AIWORKER_PREVIEW_SANDBOX: z
    .enum(['bwrap', 'none'], { error: 'expected bwrap (the default) or none (unsafe)' })
    .default('bwrap'),
  // Above the ids of people and system accounts, and below 2^31 so no tool reads one as negative.
  AIWORKER_PREVIEW_UID_BASE: wholeNumber(65_536, 2_000_000_000).default(200_000),
  AIWORKER_PREVIEW_UID_COUNT: wholeNumber(1, 100_000).default(1000),
  PREVIEW_TTL_HOURS: z.coerce
    .number({ error: 'expected a number of hours' })
    .positive('expected more than 0 hours')
    .default(72),
  PREVIEW_CLEANUP_MINUTES: z.coerce
    .number({ error: 'expected a number of minutes' })
    .int('expected a whole number of minutes')
    .min(1, 'expected at least 1 minute')
    .default(15),
  GITEA_URL: urlWithScheme(['http', 'https'], 'https://gitea.example.com').optional(),
  GITEA_TOKEN: z.string().min(1).optional(),
  GITEA_USERNAME: z.string().min(1).optional(),
  OIDC_ISSUER: urlWithScheme(['http', 'https'], 'https://gitea.example.com').optional(),
  OIDC_CLIENT_ID: z.string().min(1).max(500).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).max(2000).optional(),
  ARGOCD_URL: urlWithScheme(['http', 'https'], 'https://argocd.example.com').optional(),
  ARGOCD_TOKEN: z.string().min(1).optional(),
  ARGOCD_APPLICATION: z.string().min(1).default('{projectId}-staging'),
  ARGOCD_STAGING_URL: urlWithScheme(['http', 'https'], 'https://staging.example.com').optional(),
});

/** Every environment variable aiworker reads (the k8s manifests are checked against this list). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

/** aiworker's configuration, read once per process from the environment. */
export interface Config {
  host: string;
  port: number;
  /** Where the worker answers its health probes (`/healthz`, `/readyz`); none when unset. */
  workerHealthPort: number | undefined;
  /**
   * A workflow bundle made beforehand (`bundleWorkflowCode`): the worker loads it instead of
   * bundling the workflow code at start-up.
   */
  workflowBundle: string | undefined;
  dataDir: string;
  /** Bearer token of the admin; required by the API process, not by the worker. */
  adminToken: string | undefined;
  /** Bearer token that reads `/metrics` (API and worker); metrics are off when unset. */
  metricsToken: string | undefined;
  temporal: {
    address: string;
    namespace: string;
    uiPort: number;
    /** The task queue workers poll and clients start work on (one per deployment). */
    taskQueue: string;
    /** Whether `npm start` runs a local dev server: `auto` does when the address is loopback and nothing answers there. */
    devServer: 'auto' | 'on' | 'off';
    /** TLS to the Temporal server (mTLS with a client certificate), or null for plain gRPC. */
    tls: {
      caFile: string | undefined;
      certFile: string | undefined;
      keyFile: string | undefined;
      serverName: string | undefined;
    } | null;
    /** API key sent to Temporal (Temporal Cloud, or a cluster that checks one). */
    apiKey: string | undefined;
  };
  databaseUrl: string;
  redisUrl: string;
  /** How long a question may wait for an answer before the board is reminded (and again after as long). */
  questionReminderMs: number;
  /** How long an agent keeps a task without a sign of life (any MCP call) before it returns to the backlog. */
  leaseMs: number;
  /** Per-token request limits of the API (`api/middleware/limits.ts`). */
  limits: {
    agentRequestsPerSecond: number;
    agentConcurrentRequests: number;
    authFailuresPerMinute: number;
  };
  /** At most one progress report per task is written to its workflow in this long; later ones are coalesced. */
  progressIntervalMs: number;
  /** How webhook deliveries retry: first wait, longest wait, and when they give up. */
  webhooks: { retryFirstMs: number; retryMaxMs: number; giveUpMs: number };
  /** How often the worker looks for task workflows that fail every workflow task (worker/stuck-tasks.ts). */
  stuckSweepEveryMs: number;
  /** How many workflows a worker keeps in its sticky cache (the rest replay on their next change). */
  maxCachedWorkflows: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Where OpenTelemetry traces go over OTLP/HTTP; tracing is off without it (platform/tracing.ts). */
  otlpEndpoint: string | undefined;
  /** Where people reach the API and board (links in pull requests); defaults to http://HOST:PORT. */
  publicUrl: string;
  /**
   * Host names `/mcp` answers to (`Host`, and `Origin` when a browser sends one): a request naming
   * another host is refused, so a web page cannot reach a local server by DNS rebinding. An entry
   * without a port allows every port. Default: the public URL's host and the loopback names.
   */
  mcpAllowedHosts: string[];
  /**
   * Proxies whose `X-Forwarded-For` says who a request comes from (addresses, CIDRs, or
   * `loopback`, `uniquelocal`, `linklocal`); none by default.
   */
  trustedProxies: string[];
  /** Largest request body (after gunzip) the git gateway reads: a push's pack, a fetch's negotiation. */
  gitBodyLimitBytes: number;
  previews: {
    runtime: 'local' | 'kubernetes';
    /** Kubernetes previews answer at `task-<id>.<domain>`. */
    domain: string;
    ingressClass: string | undefined;
    /** Previews older than this are removed unless their task still needs them. */
    ttlMs: number;
    /** How often the clean-up schedule runs. */
    cleanupEveryMs: number;
    /**
     * Labels of the namespaces whose pods may reach a Kubernetes preview (the ingress
     * controller's); unset, the runtime's default.
     */
    ingressNamespaceSelector: Record<string, string> | undefined;
    /** How local previews are isolated. */
    sandbox: SandboxSettings;
    /** The host name in local previews' URLs (`localPreviewHost`). */
    localHost: string;
  };
  /** Set when projects may use Gitea (all three variables). */
  gitea: { url: string; token: string; username: string } | null;
  /** Set when people may sign in with OpenID Connect (all three `OIDC_*` variables). */
  oidc: { issuer: string; clientId: string; clientSecret: string } | null;
  /** Set when staging is deployed with Argo CD (`ARGOCD_URL` and `ARGOCD_TOKEN`). */
  argocd: { url: string; token: string; application: string; stagingUrl: string | null } | null;
}

/**
 * The host name in local previews' URLs (`http://<host>:<port>`): never the one people reach
 * the board at. Browsers send a site's cookies to all its ports, so a preview, which runs an
 * agent's code, at the board's host would receive the board's session cookie. Sign-in is
 * refused at this host (`refuseSessionAtPreviewHost`).
 */
export function localPreviewHost(publicUrl: string): string {
  return new URL(publicUrl).hostname === 'localhost' ? '127.0.0.1' : 'localhost';
}

/**
 * Validates the environment and returns the typed configuration.
 * Throws a ConfigError listing every problem at once (never the value of a secret).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(envSchema.shape)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        const shown = SECRET_VARIABLES.has(name) ? '(value hidden)' : JSON.stringify(present[name]);
        return `${name}: ${issue.message}; got ${shown}`;
      }),
    );
  }
  const e = parsed.data;
  const publicUrl = (e.AIWORKER_PUBLIC_URL ?? `http://${e.HOST}:${e.PORT}`).replace(/\/$/, '');
  const oidcSet = [e.OIDC_ISSUER, e.OIDC_CLIENT_ID, e.OIDC_CLIENT_SECRET].filter(Boolean).length;
  if (oidcSet > 0 && oidcSet < 3) {
    throw new ConfigError([
      'OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET: set all three to sign people in with OpenID Connect, or none',
    ]);
  }
  const problems: string[] = [];
  const giteaSet = [e.GITEA_URL, e.GITEA_TOKEN, e.GITEA_USERNAME].filter((v) => v !== undefined);
  if (giteaSet.length !== 0 && giteaSet.length !== 3) {
    problems.push('GITEA_URL, GITEA_TOKEN, GITEA_USERNAME: set all three or none');
  }
  if ((e.ARGOCD_URL === undefined) !== (e.ARGOCD_TOKEN === undefined)) {
    problems.push('ARGOCD_URL, ARGOCD_TOKEN: set both or neither');
  }
  if ((e.TEMPORAL_TLS_CERT_FILE === undefined) !== (e.TEMPORAL_TLS_KEY_FILE === undefined)) {
    problems.push('TEMPORAL_TLS_CERT_FILE, TEMPORAL_TLS_KEY_FILE: set both or neither');
  }
  const temporalTls =
    e.TEMPORAL_TLS === 'true' ||
    [e.TEMPORAL_TLS_CA_FILE, e.TEMPORAL_TLS_CERT_FILE, e.TEMPORAL_API_KEY].some(
      (v) => v !== undefined,
    );
  if (problems.length) throw new ConfigError(problems);
  return {
    host: e.HOST,
    port: e.PORT,
    workerHealthPort: e.WORKER_HEALTH_PORT,
    workflowBundle: e.AIWORKER_WORKFLOW_BUNDLE,
    dataDir: path.resolve(e.AIWORKER_DATA_DIR),
    adminToken: e.AIWORKER_ADMIN_TOKEN,
    metricsToken: e.AIWORKER_METRICS_TOKEN,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      uiPort: e.TEMPORAL_UI_PORT,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      devServer: e.TEMPORAL_DEV_SERVER,
      tls: temporalTls
        ? {
            caFile: e.TEMPORAL_TLS_CA_FILE,
            certFile: e.TEMPORAL_TLS_CERT_FILE,
            keyFile: e.TEMPORAL_TLS_KEY_FILE,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
          }
        : null,
      apiKey: e.TEMPORAL_API_KEY,
    },
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    questionReminderMs: e.AIWORKER_QUESTION_REMINDER_SECONDS * 1000,
    leaseMs: e.AIWORKER_LEASE_SECONDS * 1000,
    stuckSweepEveryMs: e.AIWORKER_STUCK_SWEEP_SECONDS * 1000,
    maxCachedWorkflows: e.AIWORKER_MAX_CACHED_WORKFLOWS,
    limits: {
      agentRequestsPerSecond: e.AIWORKER_AGENT_REQUESTS_PER_SECOND,
      agentConcurrentRequests: e.AIWORKER_AGENT_CONCURRENT_REQUESTS,
      authFailuresPerMinute: e.AIWORKER_AUTH_FAILURES_PER_MINUTE,
    },
    progressIntervalMs: e.AIWORKER_PROGRESS_INTERVAL_SECONDS * 1000,
    webhooks: {
      retryFirstMs: Math.round(e.AIWORKER_WEBHOOK_RETRY_SECONDS * 1000),
      retryMaxMs: Math.round(e.AIWORKER_WEBHOOK_RETRY_MAX_SECONDS * 1000),
      giveUpMs: Math.round(e.AIWORKER_WEBHOOK_GIVE_UP_HOURS * 3_600_000),
    },
    logLevel: e.LOG_LEVEL,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    publicUrl,
    mcpAllowedHosts: e.AIWORKER_MCP_ALLOWED_HOSTS ?? [
      new URL(e.AIWORKER_PUBLIC_URL ?? `http://${e.HOST}:${e.PORT}`).host,
      'localhost',
      '127.0.0.1',
      '[::1]',
    ],
    trustedProxies: e.AIWORKER_TRUSTED_PROXIES,
    gitBodyLimitBytes: Math.floor(e.AIWORKER_GIT_BODY_LIMIT_MB * (1 << 20)),
    previews: {
      runtime: e.PREVIEW_RUNTIME,
      domain: e.PREVIEW_DOMAIN,
      ingressClass: e.PREVIEW_INGRESS_CLASS,
      ttlMs: e.PREVIEW_TTL_HOURS * 3_600_000,
      cleanupEveryMs: e.PREVIEW_CLEANUP_MINUTES * 60_000,
      ingressNamespaceSelector: e.PREVIEW_INGRESS_NAMESPACE_SELECTOR,
      sandbox: {
        mode: e.AIWORKER_PREVIEW_SANDBOX,
        uidBase: e.AIWORKER_PREVIEW_UID_BASE,
        uidCount: e.AIWORKER_PREVIEW_UID_COUNT,
      },
      localHost: localPreviewHost(publicUrl),
    },
    gitea:
      e.GITEA_URL && e.GITEA_TOKEN && e.GITEA_USERNAME
        ? { url: e.GITEA_URL, token: e.GITEA_TOKEN, username: e.GITEA_USERNAME }
        : null,
    oidc:
      e.OIDC_ISSUER && e.OIDC_CLIENT_ID && e.OIDC_CLIENT_SECRET
        ? { issuer: e.OIDC_ISSUER, clientId: e.OIDC_CLIENT_ID, clientSecret: e.OIDC_CLIENT_SECRET }
        : null,
    argocd:
      e.ARGOCD_URL && e.ARGOCD_TOKEN
        ? {
            url: e.ARGOCD_URL,
            token: e.ARGOCD_TOKEN,
            application: e.ARGOCD_APPLICATION,
            stagingUrl: e.ARGOCD_STAGING_URL ?? null,
          }
        : null,
  };
}

/** A URL safe to print: the password (if any) replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Loads the configuration for a process entry point (reading `.env` at the repository root when
 * there is one), or prints every problem and exits.
 */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  const dotEnv = path.join(REPO_ROOT, '.env');
  // Values already in the environment win over the file.
  if (env === process.env && existsSync(dotEnv)) process.loadEnvFile(dotEnv);
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`aiworker: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
