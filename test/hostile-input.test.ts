import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Connection } from 'mariadb';
import { io as connectSocket } from 'socket.io-client';
import { errorBodySchema } from '../contracts/errors';
import { migrate } from '../prisma/migrator';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject, registerAgent } from './support/http';
import { AGENT_TOOLS, callTool, connectAgent } from './support/mcp-agent';
import { untilProjected } from './support/projected';
import { connect, dropDatabase, scratchDatabaseUrl } from './support/scratch-db';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/**
 * "Bad input gets a clear error and changes nothing", as an outsider probing every REST route,
 * every MCP tool and the socket would check it: never a 5xx, always the error body with a
 * snake_case code, never a library's text, a path or a stack frame, and a refused request leaves
 * every table of the database as it was.
 */

/** Text a client must never see: library messages, source paths, stack frames. */
const LEAKS =
  /prisma|invocation|\.ts:\d|\/work\/|node_modules|\bat [\w.<>]+ \(|grpc|temporalio|ECONNREFUSED|sql|zod|TypeError|RangeError|SyntaxError|undefined is not|Cannot read prop/i;

const HOUR_MS = 3_600_000;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/** The values a field of another type gets, each in turn; those of its own type are skipped. */
const WRONG_TYPES: unknown[] = [[], { a: 1 }, 42, true, null, 'x'];
const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/** Nested arrays, as raw JSON text. */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** Whole bodies no route accepts as they are (raw JSON text). */
const HOSTILE_BODIES: Array<[string, string]> = [
  ['null', 'null'],
  ['an empty array', '[]'],
  ['a string', '"x"'],
  ['a number', '42'],
  ['true', 'true'],
  ['a number too large for a double', '1e309'],
  ['__proto__', '{"__proto__":{"x":1}}'],
  ['constructor.prototype', '{"constructor":{"prototype":{"x":1}}}'],
  ['5,000 levels of nesting', nested(5000)],
  ['100,000 levels of nesting', nested(100_000)],
  ['an object nested 5,000 levels', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)],
  ['a 100,000-character string', JSON.stringify('x'.repeat(100_000))],
  ['text that is not JSON', '{"a": '],
  ['a duplicate key', '{"a":1,"a":2}'],
];

/** What path parameters get in place of a real id. */
const HOSTILE_SEGMENTS: Array<[string, string]> = [
  ['a non-UUID', 'not-a-uuid'],
  ['a path traversal', '..%2F..%2Fetc%2Fpasswd'],
  ['a NUL byte', '%00'],
  ['broken percent-encoding', '%E0%A4%A'],
  ['a 5,000-character segment', 'a'.repeat(5000)],
  ['SQL', "1'%20OR%20'1'%3D'1"],
  ['an unknown UUID', UNKNOWN],
  ['an upper-case UUID', UNKNOWN.toUpperCase()],
];

/** What a query parameter gets (raw, already encoded). */
const HOSTILE_QUERY_VALUES: Array<[string, (key: string) => string]> = [
  ['a repeated key', (k) => `${k}=a&${k}=b`],
  ['-1', (k) => `${k}=-1`],
  ['1e309', (k) => `${k}=1e309`],
  ['NaN', (k) => `${k}=NaN`],
  ['bracket syntax', (k) => `${k}[x]=1`],
  ['an empty value', (k) => `${k}=`],
  ['a 5,000-character value', (k) => `${k}=${'9'.repeat(5000)}`],
  ['a NUL byte', (k) => `${k}=%00`],
];

/** Text that must survive the trip into the database and back, or be refused in words. */
const ODD_TEXT: Array<[string, string]> = [
  ['a NUL byte', 'nul\u0000byte'],
  ['control characters', 'ctrl\u0001\u001b[31m\u007f\u0085'],
  ['right-to-left override', 'rtl\u202eevil\u202c'],
  ['emoji', 'emoji 😀🧨👩‍👩‍👧'],
  ['a lone surrogate', 'lone \ud800 half'],
];

type As = 'admin' | 'viewer' | 'session' | 'none';

/**
 * One REST route: its method, its path (`{name}` is an id of the fixture), what a well-formed
 * body looks like (each field is then given a value of the wrong type), its query keys, and who
 * calls it. The ids are chosen so that a well-formed request is refused too (a task in a state
 * that does not allow it, a revoked agent): no case here may succeed and change anything.
 */
interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
  query?: Record<string, string>;
  as?: As;
  /** Changes no table even when it succeeds (every GET does not). */
  readOnly?: boolean;
}

const FUTURE = () => new Date(Date.now() + 24 * HOUR_MS).toISOString();

const ROUTES = (f: Fixture): Route[] => [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  {
    method: 'POST',
    path: '/api/auth/login',
    as: 'none',
    body: { email: 'no@example.com', password: 'wrong' },
  },
  { method: 'GET', path: '/api/auth/methods', as: 'none' },
  // Ends no session without a cookie; sessions live in Redis, so it changes no table either way.
  { method: 'POST', path: '/api/auth/logout', as: 'none', readOnly: true },
  {
    method: 'POST',
    path: '/api/auth/first-admin',
    as: 'none',
    body: { token: 'x'.repeat(43), email: 'eve@example.com', name: 'Eve' },
  },
  { method: 'GET', path: '/api/auth/oidc/start', as: 'none' },
  { method: 'GET', path: '/api/auth/oidc/callback', as: 'none', query: { state: 's', code: 'c' } },
  { method: 'GET', path: '/api/session' },
  {
    method: 'POST',
    path: '/api/users',
    body: { email: 'no-email', name: 'N', role: 'viewer', projectIds: [f.projectId] },
  },
  { method: 'POST', path: '/api/users/first-admin-link', body: {} },
  { method: 'GET', path: '/api/users', query: { after: f.viewerId, limit: '10' } },
  { method: 'GET', path: '/api/users/{viewerId}' },
  {
    method: 'PATCH',
    path: '/api/users/{viewerId}',
    // An unknown project: even this body, well-formed, is refused (by the account's workflow).
    body: { name: 'Vera', role: 'viewer', projectIds: [UNKNOWN], resetPassword: true },
  },
  { method: 'DELETE', path: `/api/users/${UNKNOWN}` },
  // The viewer is tied to no OpenID subject: untying it answers 200 and changes nothing.
  { method: 'DELETE', path: '/api/users/{viewerId}/oidc', readOnly: true },
  { method: 'GET', path: '/api/users/{viewerId}/tokens' },
  { method: 'DELETE', path: `/api/users/{viewerId}/tokens/${UNKNOWN}` },
  {
    method: 'POST',
    path: '/api/tokens',
    as: 'session',
    body: { name: 't', expiresAt: 'yesterday', projectIds: [f.projectId] },
  },
  { method: 'GET', path: '/api/tokens', as: 'session' },
  { method: 'DELETE', path: `/api/tokens/${UNKNOWN}`, as: 'session' },
  {
    method: 'POST',
    path: '/api/agents',
    body: { name: 'a', projectIds: [UNKNOWN], expiresAt: FUTURE() },
  },
  { method: 'GET', path: '/api/agents', query: { after: f.agentA.id, limit: '10' } },
  { method: 'GET', path: '/api/agents/{agentA}' },
  // Revoking the revoked agent again answers 200 and changes nothing (no new audit entry).
  { method: 'DELETE', path: '/api/agents/{revokedAgent}', readOnly: true },
  { method: 'DELETE', path: `/api/agents/${UNKNOWN}` },
  { method: 'POST', path: '/api/agents/{revokedAgent}/rotate', body: { expiresAt: FUTURE() } },
  {
    method: 'POST',
    path: '/api/projects',
    body: { name: f.projectName, repository: { provider: 'local' }, preview: { port: 3000 } },
  },
  { method: 'GET', path: '/api/projects', query: { after: f.projectId, limit: '10' } },
  { method: 'GET', path: '/api/projects/{projectId}' },
  { method: 'GET', path: '/api/projects/{projectId}/pulls/1' },
  {
    method: 'POST',
    path: '/api/tasks',
    body: { projectId: UNKNOWN, title: 't', description: 'd', priority: 1 },
  },
  {
    method: 'POST',
    path: '/api/tasks/batch',
    body: { projectId: UNKNOWN, tasks: [{ title: 't', description: 'd', priority: 1 }] },
  },
  {
    method: 'GET',
    path: '/api/tasks',
    query: { projectId: f.projectId, state: 'backlog', after: f.backlog, limit: '10' },
  },
  { method: 'GET', path: '/api/tasks/{backlog}' },
  {
    method: 'POST',
    path: '/api/tasks/{asking}/respond',
    body: { answer: 'a', questionId: UNKNOWN },
  },
  { method: 'POST', path: '/api/tasks/{working}/approve', body: {} },
  { method: 'POST', path: '/api/tasks/{working}/request-changes', body: { feedback: 'f' } },
  { method: 'POST', path: '/api/tasks/{cancelled}/cancel', body: { reason: 'r' } },
  { method: 'POST', path: '/api/merge', body: { taskIds: [f.backlog] } },
  {
    method: 'GET',
    path: '/api/merges',
    query: { projectId: f.projectId, after: UNKNOWN, limit: '10' },
  },
  { method: 'GET', path: `/api/merges/${UNKNOWN}` },
  { method: 'GET', path: '/api/projects/{projectId}/events', query: { after: '0', limit: '10' } },
  { method: 'GET', path: '/api/tasks/{backlog}/events', query: { after: '0', limit: '10' } },
  { method: 'GET', path: '/api/audit', query: { projectId: f.projectId, after: '0', limit: '10' } },
  {
    method: 'POST',
    path: `/api/projects/${UNKNOWN}/webhooks`,
    body: { url: 'http://127.0.0.1:9/hook', secret: 's'.repeat(16), events: ['deploy:completed'] },
  },
  { method: 'GET', path: '/api/projects/{projectId}/webhooks' },
  { method: 'GET', path: '/api/projects/{projectId}/webhooks/{webhookId}', query: { limit: '10' } },
  { method: 'DELETE', path: `/api/projects/{projectId}/webhooks/${UNKNOWN}` },
  { method: 'GET', path: '/api/health/workflows' },
];

/** The ids and credentials of the fixture. */
interface Fixture {
  projectId: string;
  projectName: string;
  backlog: string;
  working: string;
  asking: string;
  cancelled: string;
  agentA: { id: string; token: string };
  agentB: { id: string; token: string };
  revokedAgent: string;
  webhookId: string;
  viewerId: string;
  viewerToken: string;
  cookie: string;
}

/** A route's path with the fixture's ids in place. */
function pathOf(route: Route, f: Fixture): string {
  return route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = (f as unknown as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : (value as { id: string }).id;
  });
}

/** The variants of a route's path with one real id (or fixed segment) replaced by a hostile one. */
function hostilePaths(route: Route, f: Fixture): Array<[string, string]> {
  const real = pathOf(route, f).split('/');
  const out: Array<[string, string]> = [];
  real.forEach((segment, i) => {
    if (!/^[0-9a-f-]{36}$|^\d+$/.test(segment)) return;
    for (const [what, hostile] of HOSTILE_SEGMENTS) {
      const path = [...real.slice(0, i), hostile, ...real.slice(i + 1)].join('/');
      out.push([`segment ${i} as ${what}`, path]);
    }
  });
  return out;
}

/** Every hostile body of a route: whole bodies, then each field with each wrong type. */
function hostileBodies(route: Route): Array<[string, string]> {
  const out: Array<[string, string]> = [...HOSTILE_BODIES, ['{}', '{}']];
  const sample = route.body ?? {};
  for (const [field, good] of Object.entries(sample)) {
    for (const wrong of WRONG_TYPES) {
      if (typeOf(wrong) === typeOf(good)) continue;
      out.push([`${field} as ${typeOf(wrong)}`, JSON.stringify({ ...sample, [field]: wrong })]);
    }
    out.push([
      `${field} as a 100,000-character string`,
      JSON.stringify({ ...sample, [field]: 'x'.repeat(100_000) }),
    ]);
    if (Array.isArray(good)) {
      out.push([
        `${field} with 10,000 items`,
        JSON.stringify({ ...sample, [field]: Array(10_000).fill(good[0]) }),
      ]);
    }
  }
  out.push(['an unknown field', JSON.stringify({ ...sample, isAdmin: true })]);
  out.push([
    '__proto__ beside the fields',
    `{"__proto__":{"role":"admin"},${JSON.stringify(sample).slice(1)}`.replace(',}', '}'),
  ]);
  return out;
}

/** Every hostile query of a route. */
function hostileQueries(route: Route): Array<[string, string]> {
  const known = route.query ?? {};
  const base = (except: string) =>
    Object.entries(known)
      .filter(([k]) => k !== except)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  const out: Array<[string, string]> = [['an unknown key', 'x[y]=1&__proto__[a]=1&constructor=1']];
  for (const key of Object.keys(known)) {
    for (const [what, make] of HOSTILE_QUERY_VALUES) {
      out.push([`${key} as ${what}`, [...base(key), make(key)].join('&')]);
    }
  }
  return out;
}

describe('hostile input', () => {
  const taskQueue = uniqueTaskQueue('hostile');
  const databaseUrl = scratchDatabaseUrl('hostile');
  let worker: { stop(): Promise<void> } | undefined;
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;
  let sql: Connection;
  let tables: string[];
  let f: Fixture;
  let agentA: Client;
  let agentB: Client;

  /** Every table's row count and checksum. */
  const digest = async (): Promise<Record<string, string>> => {
    const sums = await sql.query<Array<{ Table: string; Checksum: unknown }>>(
      `CHECKSUM TABLE ${tables.map((t) => `\`${t}\``).join(', ')}`,
    );
    const counts = await sql.query<Array<Record<string, unknown>>>(
      `SELECT ${tables.map((t) => `(SELECT COUNT(*) FROM \`${t}\`) AS \`${t}\``).join(', ')}`,
    );
    return Object.fromEntries(
      sums.map((s) => {
        const table = s.Table.split('.').pop()!;
        return [table, `${String(counts[0]![table])} rows, checksum ${String(s.Checksum)}`];
      }),
    );
  };

  /**
   * Waits until nothing changes any more (what a fixture's workflows project lands a moment after
   * their answers), and returns the digest it settled at.
   */
  const settled = async (): Promise<Record<string, string>> => {
    let last = await digest();
    let same = 0;
    for (const deadline = Date.now() + 20_000; same < 3 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await digest();
      same = JSON.stringify(now) === JSON.stringify(last) ? same + 1 : 0;
      last = now;
    }
    return last;
  };

  /** The tables whose rows changed since `before`. */
  const changedSince = async (before: Record<string, string>) => {
    const now = await digest();
    return Object.keys(now).filter((t) => now[t] !== before[t]);
  };

  const headersFor = (as: As): Record<string, string> => {
    if (as === 'admin') return { authorization: `Bearer ${api.adminToken}` };
    if (as === 'viewer') return { authorization: `Bearer ${f.viewerToken}` };
    if (as === 'session') return { cookie: f.cookie, origin: api.url };
    return {};
  };

  /** Sends one request as raw text; answers its status, headers and text. */
  const send = async (method: string, path: string, as: As, body?: string) => {
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: {
        ...headersFor(as),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body,
      redirect: 'manual',
    });
    return {
      status: res.status,
      requestId: res.headers.get('x-request-id'),
      text: await res.text(),
    };
  };

  /**
   * The contract for one answer: no 5xx; an error is the documented body with its request id, in
   * plain words; a refusal changed no row of any table.
   */
  let baseline: Record<string, string>;
  const problemsOf = async (
    answer: { status: number; requestId: string | null; text: string },
    readOnly = false,
  ): Promise<string[]> => {
    const problems: string[] = [];
    if (answer.status >= 500) problems.push(`answered ${answer.status}`);
    if (answer.status >= 400) {
      let body: unknown;
      try {
        body = JSON.parse(answer.text);
      } catch {
        problems.push(`not JSON: ${answer.text.slice(0, 200)}`);
      }
      const parsed = errorBodySchema.safeParse(body);
      if (body !== undefined && !parsed.success)
        problems.push(`not the error body: ${answer.text.slice(0, 300)}`);
      if (parsed.success) {
        if (parsed.data.error.requestId !== answer.requestId)
          problems.push('without its request id');
        if (parsed.data.error.code === 'internal') problems.push('code internal');
      }
      if (LEAKS.test(answer.text)) problems.push(`leaks: ${answer.text.slice(0, 300)}`);
    }
    if (answer.status >= 400 || readOnly) {
      const changed = await changedSince(baseline);
      if (changed.length) problems.push(`changed ${changed.join(', ')}`);
    } else if (answer.status >= 200 && answer.status < 300) {
      // A request that was accepted may change things: wait until it has, and go on from there.
      baseline = await settled();
    }
    return problems;
  };

  beforeAll(async () => {
    await migrate(databaseUrl);
    const long = { taskQueue, databaseUrl, leaseMs: HOUR_MS, questionReminderMs: HOUR_MS };
    worker = await startTestWorker(long);
    api = await startTestApi(long);
    admin = apiClient(api.url, api.adminToken);
    sql = await connect(databaseUrl);
    tables = (await sql.query<Array<Record<string, string>>>('SHOW TABLES')).map(
      (row) => Object.values(row)[0]!,
    );

    const projectName = `hostile-${randomUUID()}`;
    const projectId = (await createProject(admin, { name: projectName })).id as string;
    const newTask = async (title: string, priority: number) => {
      const res = await admin.post('/api/tasks', { projectId, title, description: '', priority });
      expect(res.status).toBe(201);
      return res.body.taskId as string;
    };
    const cancelled = await newTask('cancelled', 0);
    await untilProjected(api.deps.db, [cancelled]);
    expect((await admin.post(`/api/tasks/${cancelled}/cancel`, {})).status).toBe(200);
    const working = await newTask('in progress', 900);
    const asking = await newTask('needs input', 800);
    const backlog = await newTask('backlog', -900);
    await untilProjected(api.deps.db, [working, asking, backlog]);

    const a = await registerAgent(admin, { name: 'agent a', projectIds: [projectId] });
    const b = await registerAgent(admin, { name: 'agent b', projectIds: [projectId] });
    const revoked = await registerAgent(admin, { name: 'revoked', projectIds: [projectId] });
    expect((await admin.del(`/api/agents/${revoked.agentId}`)).status).toBe(200);
    agentA = await connectAgent(api.url, a.token);
    agentB = await connectAgent(api.url, b.token);
    expect((await callTool(agentA, 'get_next_task', {})).data.task.id).toBe(working);
    expect((await callTool(agentB, 'get_next_task', {})).data.task.id).toBe(asking);
    const asked = await callTool(agentB, 'ask_user_question', {
      taskId: asking,
      question: 'which?',
    });
    expect(asked.isError).toBe(false);

    const hook = await admin.post(`/api/projects/${projectId}/webhooks`, {
      url: 'http://127.0.0.1:9/hook',
      secret: 's'.repeat(16),
      // An event the fixture never causes: no delivery changes rows while the cases run.
      events: ['deploy:completed'],
    });
    expect(hook.status).toBe(201);

    const viewer = await admin.post('/api/users', {
      email: `viewer-${randomUUID()}@example.com`,
      name: 'Vera',
      role: 'viewer',
      projectIds: [projectId],
    });
    expect(viewer.status).toBe(201);
    const login = await fetch(`${api.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: viewer.body.user.email, password: viewer.body.password }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const minted = await fetch(`${api.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: api.url },
      body: JSON.stringify({ name: 'script' }),
    });
    expect(minted.status).toBe(201);

    f = {
      projectId,
      projectName,
      backlog,
      working,
      asking,
      cancelled,
      agentA: { id: a.agentId, token: a.token },
      agentB: { id: b.agentId, token: b.token },
      revokedAgent: revoked.agentId,
      webhookId: hook.body.id,
      viewerId: viewer.body.user.id,
      viewerToken: ((await minted.json()) as { token: string }).token,
      cookie,
    };
    baseline = await settled();
  }, 120_000);

  afterAll(async () => {
    await agentA?.close();
    await agentB?.close();
    await sql?.end();
    await api?.close();
    await worker?.stop();
    await dropDatabase(databaseUrl);
  });

  it('names every route the API declares', () => {
    const declared: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
          for (const m of readFileSync(file, 'utf8').matchAll(
            /router\.(get|post|patch|delete)\(\s*'([^']+)'/g,
          )) {
            declared.push(`${m[1]!.toUpperCase()} ${m[2]}`);
          }
        }
      }
    };
    walk(join(__dirname, '..', 'api'));
    const table = ROUTES(placeholderFixture()).map((r) => `${r.method} ${r.path}`);
    const normal = (p: string) => p.replace(/\{\w+\}|[0-9a-f-]{36}|:\w+|(?<=\/)\d+(?=\/|$)/g, ':_');
    const missing = declared.filter(
      (d) =>
        d !== 'POST /' &&
        !table.some(
          (t) =>
            t.split(' ')[0] === d.split(' ')[0] && normal(t).endsWith(normal(d).split(' ')[1]!),
        ),
    );
    expect(missing).toEqual([]);
  });

  it('refuses hostile bodies, paths and queries on every REST route, changing nothing', async () => {
    const failures: string[] = [];
    let cases = 0;
    for (const route of ROUTES(f)) {
      const as = route.as ?? 'admin';
      const path = pathOf(route, f);
      const variants: Array<[string, string, string | undefined]> = [];
      for (const [what, p] of hostilePaths(route, f)) {
        variants.push([what, p, route.body ? JSON.stringify(route.body) : undefined]);
      }
      if (route.method !== 'GET') {
        for (const [what, body] of hostileBodies(route))
          variants.push([`body ${what}`, path, body]);
      }
      for (const [what, query] of hostileQueries(route)) {
        variants.push([
          `query ${what}`,
          `${path}?${query}`,
          route.body ? JSON.stringify(route.body) : undefined,
        ]);
      }
      // A route that takes no body refuses one with content rather than ignoring it.
      const takesNoBody = route.method === 'DELETE' || route.path === '/api/auth/logout';
      for (const [what, p, body] of variants) {
        cases += 1;
        const answer = await send(route.method, p, as, body);
        const problems = await problemsOf(answer, route.method === 'GET' || route.readOnly);
        if (takesNoBody && what.startsWith('body ') && body !== '{}' && answer.status < 400) {
          problems.push('took a body it does not take');
        }
        if (problems.length) {
          failures.push(
            `${route.method} ${route.path} with ${what} (${answer.status}): ${problems.join('; ')}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThan(1000);
  }, 180_000);

  /** The problems of an MCP answer: a code that is ours and not `internal`, and plain words. */
  const mcpProblems = (answer: unknown): string[] => {
    const text = JSON.stringify(answer);
    const problems: string[] = LEAKS.test(text) ? [`leaks: ${text.slice(0, 300)}`] : [];
    const messages = Array.isArray(answer) ? answer : [answer];
    for (const m of messages as Array<Record<string, any> | null>) {
      const code: unknown = m?.error
        ? m.error.data?.code
        : m?.result?._meta?.['aiworker/error']?.code;
      if ((m?.error || m?.result?.isError) && typeof code !== 'string') {
        problems.push(`no aiworker code: ${JSON.stringify(m).slice(0, 300)}`);
      }
      if (code === 'internal') problems.push(`code internal: ${JSON.stringify(m).slice(0, 300)}`);
    }
    return problems;
  };

  it('refuses hostile arguments to every MCP tool, resource and prompt, changing nothing', async () => {
    const { tools } = await agentA.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(AGENT_TOOLS);
    const calls: Array<[string, Client, string, Record<string, unknown>]> = [];
    for (const tool of tools) {
      const schema = tool.inputSchema as {
        properties?: Record<string, { type?: string; enum?: unknown[] }>;
        required?: string[];
      };
      const props = schema.properties ?? {};
      const sampleOf = (name: string): unknown => {
        // Agent B's task: agent A may not touch it, so even well-formed arguments are refused.
        if (name === 'taskId') return f.asking;
        const p = props[name] ?? {};
        if (p.enum) return p.enum[0];
        return (
          { number: 1, integer: 1, boolean: true, array: ['x'], object: {} }[p.type ?? ''] ?? 'x'
        );
      };
      const base = Object.fromEntries((schema.required ?? []).map((n) => [n, sampleOf(n)]));
      const add = (what: string, args: Record<string, unknown>, as = agentA) =>
        calls.push([`${tool.name} with ${what}`, as, tool.name, args]);
      if (schema.required?.length) add('no arguments', {});
      for (const [name, p] of Object.entries(props)) {
        const want = p.type === 'integer' ? 'number' : p.type;
        for (const wrong of WRONG_TYPES) {
          if (typeOf(wrong) !== want)
            add(`${name} as ${typeOf(wrong)}`, { ...base, [name]: wrong });
        }
        add(`${name} as a 100,000-character string`, { ...base, [name]: 'x'.repeat(100_000) });
        if (want === 'number') {
          for (const n of [-1, 0.5, 1e308, Number.MAX_SAFE_INTEGER + 2])
            add(`${name} as ${n}`, { ...base, [name]: n });
        }
      }
      if ('taskId' in props) {
        for (const [what, id] of [
          ["another agent's task", f.asking],
          ['an unknown task', UNKNOWN],
          ['a backlog task', f.backlog],
          ['a cancelled task', f.cancelled],
          ['SQL', "' OR 1=1 --"],
          ['an upper-case UUID', f.asking.toUpperCase()],
        ]) {
          add(`taskId as ${what}`, { ...base, taskId: id });
        }
        add(
          'extra properties and __proto__',
          JSON.parse(`{"__proto__":{"isAdmin":true},"extra":1,${JSON.stringify(base).slice(1)}`),
        );
      }
    }
    // An argument a tool does not take is refused as such (every input schema is strict: its
    // JSON Schema says `additionalProperties: false`), even next to well-formed ones.
    for (const tool of tools) {
      expect(tool.inputSchema).toMatchObject({ additionalProperties: false });
      const args = tool.name === 'list_my_tasks' ? {} : { taskId: f.working };
      const answer = await agentA.callTool({
        name: tool.name,
        arguments: { ...args, admin: true },
      });
      expect(answer._meta?.['aiworker/error']).toMatchObject({ code: 'invalid_arguments' });
    }
    // Well-formed calls on the caller's own task, in a state that does not allow them.
    const own = (tool: string, taskId: string, as: Client, extra: Record<string, unknown> = {}) =>
      calls.push([
        `${tool} on its own ${taskId === f.asking ? 'needs_input' : 'in_progress'} task`,
        as,
        tool,
        { taskId, ...extra },
      ]);
    own('ask_user_question', f.asking, agentB, { question: 'and again?' });
    own('create_pr', f.asking, agentB, { title: 't', description: 'b' });
    own('trigger_preview', f.asking, agentB);
    own('check_response', f.working, agentA);
    own('create_pr', f.working, agentA, { title: 't', description: 'b' });

    const failures: string[] = [];
    for (const [what, as, name, args] of calls) {
      const answer = await as.callTool({ name, arguments: args }).then(
        (result) => ({ result }),
        (err: { code?: number; message?: string; data?: unknown }) => ({
          error: { code: err.code, message: err.message, data: err.data },
        }),
      );
      const problems = mcpProblems(answer);
      if ('result' in answer && answer.result.isError !== true) problems.push('accepted');
      const changed = await changedSince(baseline);
      if (changed.length) problems.push(`changed ${changed.join(', ')}`);
      if (problems.length) failures.push(`${what}: ${problems.join('; ')}`);
    }

    const reads: Array<[string, () => Promise<unknown>]> = [];
    for (const uri of [
      'aiworker://tasks/not-a-uuid',
      `aiworker://tasks/${f.asking}`,
      `aiworker://tasks/${UNKNOWN}`,
      `aiworker://tasks/${f.working}/../${f.asking}`,
      'aiworker://tasks/%00',
      `aiworker://tasks/${'a'.repeat(100_000)}`,
      'file:///etc/passwd',
      'aiworker://tasks/',
      '',
    ]) {
      reads.push([`resources/read ${uri.slice(0, 60)}`, () => agentA.readResource({ uri })]);
    }
    for (const args of [
      { taskId: f.asking },
      { taskId: 'x' },
      { taskId: UNKNOWN },
      { taskId: 'a'.repeat(100_000) },
    ]) {
      reads.push([
        `prompts/get work_on_task ${args.taskId.slice(0, 40)}`,
        () => agentA.getPrompt({ name: 'work_on_task', arguments: args }),
      ]);
    }
    reads.push(['prompts/get of no prompt', () => agentA.getPrompt({ name: 'nope' })]);
    reads.push([
      'prompts/get with a huge name',
      () => agentA.getPrompt({ name: 'x'.repeat(100_000) }),
    ]);
    for (const [what, read] of reads) {
      const answer = await read().then(
        (result) => ({ result }),
        (err: { code?: number; message?: string; data?: unknown }) => ({
          error: { code: err.code, message: err.message, data: err.data },
        }),
      );
      const problems = mcpProblems(answer);
      if ('result' in answer)
        problems.push(`answered ${JSON.stringify(answer.result).slice(0, 200)}`);
      const changed = await changedSince(baseline);
      if (changed.length) problems.push(`changed ${changed.join(', ')}`);
      if (problems.length) failures.push(`${what}: ${problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
    expect(calls.length + reads.length).toBeGreaterThan(150);
  }, 120_000);

  it('answers hostile JSON-RPC messages with JSON-RPC errors that carry our code', async () => {
    const rpc = (method: string, params?: unknown, id: unknown = 1) =>
      JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
    const call = (name: string, args: unknown) => rpc('tools/call', { name, arguments: args });
    const bodies: Array<[string, string]> = [
      ['an unknown method', rpc('nope')],
      ['method __proto__', rpc('__proto__')],
      ['no jsonrpc', JSON.stringify({ id: 1, method: 'tools/list' })],
      ['jsonrpc 1.0', JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'tools/list' })],
      ['an object as id', rpc('tools/list', undefined, { a: 1 })],
      ['a batch of 0', '[]'],
      ['a batch of 1,000', `[${Array(1000).fill(rpc('tools/list')).join(',')}]`],
      [
        'a batch of 10 refused calls',
        `[${Array.from({ length: 10 }, (_, i) => rpc('tools/call', { name: 'heartbeat', arguments: { taskId: f.asking } }, i)).join(',')}]`,
      ],
      ['params as an array', rpc('tools/call', ['heartbeat'])],
      ['params null', rpc('tools/list', null)],
      ['arguments as a string', call('heartbeat', 'x')],
      ['arguments null', call('heartbeat', null)],
      ['arguments as an array', call('heartbeat', [f.asking])],
      [
        'waitSeconds 1e309',
        `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_next_task","arguments":{"waitSeconds":1e309}}}`,
      ],
      ['a 100,000-character tool name', call('x'.repeat(100_000), {})],
      ['a uri that is a number', rpc('resources/read', { uri: 42 })],
      [
        'a prompt argument that is an array',
        rpc('prompts/get', { name: 'work_on_task', arguments: { taskId: ['x'] } }),
      ],
      ['an unknown log level', rpc('logging/setLevel', { level: 'loudest' })],
      [
        'a completion of an object',
        rpc('completion/complete', {
          ref: { type: 'ref/resource', uri: 'aiworker://tasks/{id}' },
          argument: { name: 'id', value: { x: 1 } },
        }),
      ],
      [
        'a completion of an unknown prompt',
        rpc('completion/complete', {
          ref: { type: 'ref/prompt', name: 'nope' },
          argument: { name: 'taskId', value: '' },
        }),
      ],
      [
        'a cancellation of an object',
        JSON.stringify({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: { a: 1 } },
        }),
      ],
      [
        'a progress token that is an object',
        rpc('tools/call', {
          name: 'heartbeat',
          arguments: { taskId: f.asking },
          _meta: { progressToken: { a: 1 } },
        }),
      ],
      ['a response no one asked for', JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} })],
      ['null', 'null'],
      ['a string', '"x"'],
      ['5,000 levels of nesting', nested(5000)],
      [
        'params nested 5,000 levels',
        `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      ],
      ['text that is not JSON', '{"jsonrpc":'],
    ];
    const failures: string[] = [];
    for (const [what, body] of bodies) {
      const res = await fetch(`${api.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${f.agentA.token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      });
      const text = await res.text();
      const problems: string[] = [];
      if (res.status >= 500) problems.push(`answered ${res.status}`);
      const json =
        text.startsWith('event:') || text.startsWith('data:')
          ? text
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => JSON.parse(l.slice(6)) as unknown)
          : text
            ? (JSON.parse(text) as unknown)
            : null;
      problems.push(...mcpProblems(json));
      const changed = await changedSince(baseline);
      if (changed.length) problems.push(`changed ${changed.join(', ')}`);
      if (problems.length) failures.push(`${what} (${res.status}): ${problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });

  it('answers hostile socket subscriptions with a refusal, and the socket lives on', async () => {
    const socket = connectSocket(api.url, {
      auth: { token: api.adminToken },
      transports: ['websocket'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const payloads: Array<[string, unknown[]]> = [
        ['null', [null]],
        ['a string', ['x']],
        ['a number as projectId', [{ projectId: 5 }]],
        ['afterSeq -1', [{ projectId: f.projectId, afterSeq: -1 }]],
        ['afterSeq "x"', [{ projectId: f.projectId, afterSeq: 'x' }]],
        // Infinity: socket.io sends it as null.
        ['afterSeq 1e309', [{ projectId: f.projectId, afterSeq: Infinity }]],
        ['afterSeq 0.5', [{ projectId: f.projectId, afterSeq: 0.5 }]],
        ['an unknown project', [{ projectId: UNKNOWN }]],
        ['an extra field', [{ projectId: f.projectId, admin: true }]],
        ['__proto__', [JSON.parse('{"__proto__":{"projectId":"x"}}')]],
        ['an array', [[f.projectId]]],
        ['a 100,000-character projectId', [{ projectId: 'x'.repeat(100_000) }]],
        ['nesting 1,000 levels', [JSON.parse('{"a":'.repeat(1000) + '1' + '}'.repeat(1000))]],
        ['no payload at all', []],
      ];
      const failures: string[] = [];
      for (const [what, args] of payloads) {
        const ack = (await socket
          .timeout(5000)
          .emitWithAck('subscribe', ...args)
          .catch((err: Error) => ({ timedOut: err.message }))) as { error?: { code?: unknown } };
        const problems: string[] = [];
        if (typeof ack?.error?.code !== 'string' || ack.error.code === 'internal') {
          problems.push(`answered ${JSON.stringify(ack).slice(0, 200)}`);
        }
        if (LEAKS.test(JSON.stringify(ack)))
          problems.push(`leaks: ${JSON.stringify(ack).slice(0, 300)}`);
        const changed = await changedSince(baseline);
        if (changed.length) problems.push(`changed ${changed.join(', ')}`);
        if (problems.length) failures.push(`${what}: ${problems.join('; ')}`);
      }
      expect(failures).toEqual([]);
      expect(socket.connected).toBe(true);
      expect(
        await socket.timeout(5000).emitWithAck('subscribe', { projectId: f.projectId }),
      ).toMatchObject({ ok: true });
    } finally {
      socket.close();
    }
  });

  it('keeps odd but valid text as it was sent, or refuses it in words', async () => {
    const failures: string[] = [];
    const check = async (
      what: string,
      res: { status: number; body: any },
      read: () => Promise<string | undefined>,
      sent: string,
    ) => {
      if (res.status >= 500 || (res.status >= 400 && typeof res.body?.error?.code !== 'string')) {
        failures.push(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        return;
      }
      if (res.status >= 300) return;
      // A lone surrogate cannot be stored as UTF-8: it comes back as U+FFFD.
      const expected = sent.replace(
        /[\ud800-\udfff](?![\udc00-\udfff])/g,
        (c, i: number, all: string) =>
          c >= '\udc00' && i > 0 && all[i - 1]! >= '\ud800' && all[i - 1]! < '\udc00'
            ? c
            : '\ufffd',
      );
      const got = await read();
      if (got !== expected)
        failures.push(`${what}: read back ${JSON.stringify(got)}, sent ${JSON.stringify(sent)}`);
    };
    for (const [what, text] of ODD_TEXT) {
      const title = `t ${text} t`;
      const task = await admin.post('/api/tasks', {
        projectId: f.projectId,
        title,
        description: text,
      });
      await check(
        `task title with ${what}`,
        task,
        async () => (await admin.get(`/api/tasks/${task.body.taskId}`)).body.title,
        title,
      );
      const agent = await admin.post('/api/agents', {
        name: `a ${text} a`,
        projectIds: [f.projectId],
      });
      await check(
        `agent name with ${what}`,
        agent,
        async () => (await admin.get(`/api/agents/${agent.body.agentId}`)).body.name,
        `a ${text} a`,
      );
      const user = await admin.post('/api/users', {
        email: `${randomUUID()}@example.com`,
        name: `u ${text} u`,
        role: 'viewer',
      });
      await check(
        `user name with ${what}`,
        user,
        async () => (await admin.get(`/api/users/${user.body.user.id}`)).body.name,
        `u ${text} u`,
      );
    }
    expect(failures).toEqual([]);
  }, 60_000);
});

/** A fixture of placeholders, for reading the route table without one. */
function placeholderFixture(): Fixture {
  return new Proxy({} as Fixture, {
    get: (_t, name) =>
      name === 'agentA' || name === 'agentB' ? { id: UNKNOWN, token: '' } : UNKNOWN,
  });
}
