import { randomUUID } from 'node:crypto';
import { io as connectSocket } from 'socket.io-client';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject, wholeAudit } from './support/http';
import { startTestWorker, uniqueTaskQueue } from './support/worker';
import { within } from './support/within';

/** A person's browser: the session cookie it was given, sent with the board's Origin. */
function browser(baseUrl: string) {
  let cookie = '';
  const request = async (
    method: string,
    path: string,
    body?: unknown,
    opts: { origin?: string | null } = {},
  ) => {
    const origin = opts.origin === undefined ? baseUrl : opts.origin;
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(origin ? { origin } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) cookie = setCookie.split(';')[0]!;
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, setCookie };
  };
  return {
    get: (path: string) => request('GET', path),
    post: (path: string, body?: unknown, opts?: { origin?: string | null }) =>
      request('POST', path, body, opts),
    cookie: () => cookie,
  };
}

describe('people: accounts, roles, sign-in and what each may do', () => {
  const taskQueue = uniqueTaskQueue('people');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;
  let projectA: string;
  let projectB: string;
  let taskA: string;
  let taskB: string;
  const people: Record<string, { id: string; email: string; password: string }> = {};

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    // Open sockets' credentials are checked again often, so an ended session's socket ends soon.
    api = await startTestApi({ taskQueue, socketRecheckMs: 200 });
    admin = apiClient(api.url, api.adminToken);
    projectA = (await createProject(admin, { name: `people-a-${randomUUID()}` })).id;
    projectB = (await createProject(admin, { name: `people-b-${randomUUID()}` })).id;
    taskA = (await admin.post('/api/tasks', { projectId: projectA, title: 'A1', description: '' }))
      .body.taskId;
    taskB = (await admin.post('/api/tasks', { projectId: projectB, title: 'B1', description: '' }))
      .body.taskId;
    for (const [key, role, projectIds] of [
      ['ana', 'member', [projectA]],
      ['vic', 'viewer', [projectA]],
      ['bob', 'member', [projectB]],
      ['ada', 'admin', []],
    ] as const) {
      const email = `${key}-${randomUUID().slice(0, 8)}@example.com`;
      const res = await admin.post('/api/users', {
        email: email.toUpperCase(),
        name: key,
        role,
        projectIds,
      });
      expect(res.status).toBe(201);
      expect(res.body.user).toMatchObject({ email, name: key, role, disabledAt: null });
      people[key] = { id: res.body.user.id, email, password: res.body.password };
    }
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  async function signedIn(key: string) {
    const b = browser(api.url);
    const res = await b.post('/api/auth/login', {
      email: people[key]!.email,
      password: people[key]!.password,
    });
    expect(res.status).toBe(200);
    return b;
  }

  it('stores passwords only as argon2id hashes, and never shows or logs them', async () => {
    const row = await api.deps.db.user.findUniqueOrThrow({ where: { id: people.ana!.id } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    const listed = await admin.get('/api/users?limit=500');
    expect(JSON.stringify(listed.body)).not.toMatch(/passwordHash|argon2/);
    expect(api.logs()).not.toContain(people.ana!.password);
    const dup = await admin.post('/api/users', {
      email: people.ana!.email,
      name: 'again',
      role: 'viewer',
    });
    expect(dup.status).toBe(409);
    const bad = await admin.post('/api/users', { email: 'nope', name: '', role: 'owner' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/email: expected an email address/);
    expect(bad.body.error.message).toMatch(/role: expected admin, member or viewer/);
  });

  it('signs in with email and password into an httpOnly, SameSite=Lax session cookie', async () => {
    const b = browser(api.url);
    const wrong = await b.post('/api/auth/login', {
      email: people.ana!.email,
      password: 'not-it',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toBe('wrong email or password');
    const nobody = await b.post('/api/auth/login', { email: 'x@example.com', password: 'y' });
    expect(nobody.body.error.message).toBe('wrong email or password');

    const ok = await b.post('/api/auth/login', {
      email: people.ana!.email,
      password: people.ana!.password,
    });
    expect(ok.status).toBe(200);
    expect(ok.setCookie).toMatch(
      /^aiworker_session=[\w-]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    const session = await b.get('/api/session');
    expect(session.body.principal).toMatchObject({
      kind: 'user',
      id: people.ana!.id,
      name: 'ana',
      role: 'member',
      projectIds: [projectA],
    });

    // Signing out ends the session for every API process (it lives in Redis).
    const cookie = b.cookie();
    expect((await b.post('/api/auth/logout')).status).toBe(204);
    const after = await fetch(`${api.url}/api/session`, { headers: { cookie } });
    expect(after.status).toBe(401);

    // Not at the host local previews are served at (the board is at 127.0.0.1 here, previews at
    // localhost): the cookie would reach every preview, which runs an agent's code.
    const atPreviews = browser(api.url.replace('127.0.0.1', 'localhost'));
    const refused = await atPreviews.post('/api/auth/login', {
      email: people.ana!.email,
      password: people.ana!.password,
    });
    expect(refused.status).toBe(403);
    expect(refused.setCookie).toBeNull();
    expect(refused.body.error).toMatchObject({
      code: 'forbidden',
      message: `sign in at ${api.url}: localhost serves task previews, which must not receive a session`,
    });
    // A session's cookie counts for nothing there either (one made there before this refusal).
    const ana = await signedIn('ana');
    const previewsUrl = api.url.replace('127.0.0.1', 'localhost');
    const there = await fetch(`${previewsUrl}/api/session`, { headers: { cookie: ana.cookie() } });
    expect(there.status).toBe(401);
    expect((await ana.get('/api/session')).status).toBe(200);
  });

  it('accepts a change made with the session only from the board’s own origin', async () => {
    const ana = await signedIn('ana');
    const body = { projectId: projectA, title: 'by ana', description: '' };
    const none = await ana.post('/api/tasks', body, { origin: null });
    expect(none.status).toBe(403);
    expect(none.body.error.message).toMatch(/must come from the board's own origin/);
    const foreign = await ana.post('/api/tasks', body, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    const count = await api.deps.db.task.count({ where: { projectId: projectA } });
    expect(count).toBe(1);
    expect((await ana.post('/api/tasks', body)).status).toBe(201);
  });

  it('lets a member work on their projects, a viewer only read, and neither touch others', async () => {
    const ana = await signedIn('ana');
    const vic = await signedIn('vic');
    const bob = await signedIn('bob');

    expect((await vic.get(`/api/tasks?projectId=${projectA}`)).status).toBe(200);
    expect((await vic.get(`/api/tasks/${taskA}`)).status).toBe(200);
    const viewerCreates = await vic.post('/api/tasks', {
      projectId: projectA,
      title: 'x',
      description: '',
    });
    expect(viewerCreates.status).toBe(403);
    expect(viewerCreates.body.error.message).toBe(
      `viewers may only read project ${projectA}: this needs the member role`,
    );
    expect((await vic.post(`/api/tasks/${taskA}/cancel`, {})).status).toBe(403);

    // To someone who is not a member, another project and what it holds do not exist.
    const foreign = await bob.get(`/api/tasks?projectId=${projectA}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.message).toBe(`project ${projectA} does not exist`);
    for (const path of [
      `/api/tasks/${taskA}`,
      `/api/projects/${projectA}`,
      `/api/projects/${projectA}/events`,
      `/api/tasks/${taskA}/events`,
      `/api/merges?projectId=${projectA}`,
    ]) {
      expect({ path, status: (await bob.get(path)).status }).toEqual({ path, status: 404 });
    }
    expect((await bob.post('/api/merge', { taskIds: [taskA] })).status).toBe(404);
    expect((await bob.post(`/api/tasks/${taskA}/cancel`, {})).status).toBe(404);
    expect((await api.deps.db.task.findUniqueOrThrow({ where: { id: taskA } })).state).not.toBe(
      'cancelled',
    );
    // Lists hold only what the person may read.
    const projects = (await bob.get('/api/projects')).body.projects.map((p: any) => p.id);
    expect(projects).toContain(projectB);
    expect(projects).not.toContain(projectA);
    const tasks = (await bob.get('/api/tasks?limit=1000')).body.tasks;
    expect(tasks.length).toBeGreaterThan(0);
    expect(tasks.every((t: { projectId: string }) => t.projectId === projectB)).toBe(true);

    // People's routes for administrators only.
    for (const path of ['/api/users', '/api/agents', '/api/health/workflows']) {
      const res = await ana.get(path);
      expect({ path, status: res.status, message: res.body.error.message }).toEqual({
        path,
        status: 403,
        message: 'this needs the admin role',
      });
    }
    expect((await ana.post('/api/projects', { name: `no-${randomUUID()}` })).status).toBe(403);

    // The member acts on their project; the change reaches the workflow.
    const cancelled = await ana.post(`/api/tasks/${taskA}/cancel`, { reason: 'not needed' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');

    // An admin person does what the admin token does.
    const ada = await signedIn('ada');
    expect((await ada.get('/api/users')).status).toBe(200);
    expect((await ada.get(`/api/tasks?projectId=${projectB}`)).status).toBe(200);
  });

  it('answers a member asking for another project’s ids exactly as for ids that do not exist', async () => {
    const ana = await signedIn('ana');
    const mergeB = randomUUID();
    await api.deps.db.merge.create({ data: { id: mergeB, projectId: projectB } });
    const stateOf = async (id: string) =>
      (await api.deps.db.task.findUniqueOrThrow({ where: { id } })).state;
    const stateB = await stateOf(taskB);
    // Admins see B's: these ids are real.
    for (const path of [
      `/api/projects/${projectB}`,
      `/api/tasks/${taskB}`,
      `/api/merges/${mergeB}`,
    ])
      expect({ path, status: (await admin.get(path)).status }).toEqual({ path, status: 200 });

    type Probe = [name: string, ask: (id: string) => ReturnType<typeof ana.get>, status: number];
    const probes: Array<[foreignId: string, probes: Probe[]]> = [
      [
        projectB,
        [
          ['project', (id) => ana.get(`/api/projects/${id}`), 404],
          ['pull request', (id) => ana.get(`/api/projects/${id}/pulls/1`), 404],
          ['project events', (id) => ana.get(`/api/projects/${id}/events`), 404],
          ['task list', (id) => ana.get(`/api/tasks?projectId=${id}`), 404],
          ['merge list', (id) => ana.get(`/api/merges?projectId=${id}`), 404],
          [
            'new task',
            (id) => ana.post('/api/tasks', { projectId: id, title: 'x', description: '' }),
            404,
          ],
          [
            'task batch',
            (id) => ana.post('/api/tasks/batch', { projectId: id, tasks: [{ title: 'x' }] }),
            404,
          ],
          ['project cursor', (id) => ana.get(`/api/projects?after=${id}`), 400],
        ],
      ],
      [
        taskB,
        [
          ['task', (id) => ana.get(`/api/tasks/${id}`), 404],
          ['task events', (id) => ana.get(`/api/tasks/${id}/events`), 404],
          ['cancel', (id) => ana.post(`/api/tasks/${id}/cancel`, {}), 404],
          ['approve', (id) => ana.post(`/api/tasks/${id}/approve`, {}), 404],
          ['respond', (id) => ana.post(`/api/tasks/${id}/respond`, { answer: 'y' }), 404],
          [
            'request changes',
            (id) => ana.post(`/api/tasks/${id}/request-changes`, { feedback: 'z' }),
            404,
          ],
          ['merge', (id) => ana.post('/api/merge', { taskIds: [id] }), 404],
          // With one of her own tasks: not "these span 2 projects".
          ['merge with hers', (id) => ana.post('/api/merge', { taskIds: [taskA, id] }), 404],
          ['task cursor', (id) => ana.get(`/api/tasks?after=${id}`), 400],
          [
            'task cursor in her project',
            (id) => ana.get(`/api/tasks?projectId=${projectA}&after=${id}`),
            400,
          ],
        ],
      ],
      [mergeB, [['merge', (id) => ana.get(`/api/merges/${id}`), 404]]],
    ];
    const seen = (res: { status: number; body: any }, id: string, as: string) => {
      const { requestId, ...error } = res.body.error;
      expect(requestId).toEqual(expect.any(String));
      return { status: res.status, body: JSON.parse(JSON.stringify({ error }).replaceAll(id, as)) };
    };
    for (const [foreignId, asks] of probes) {
      for (const [name, ask, status] of asks) {
        const unknownId = randomUUID();
        const foreign = seen(await ask(foreignId), foreignId, '<id>');
        const unknown = seen(await ask(unknownId), unknownId, '<id>');
        expect({ name, ...foreign }).toEqual({ name, ...unknown });
        expect({ name, status: foreign.status }).toEqual({ name, status });
      }
    }
    // Nothing was done to B's task, and nothing was created in B.
    expect(await stateOf(taskB)).toBe(stateB);
    expect(await api.deps.db.task.count({ where: { projectId: projectB, title: 'x' } })).toBe(0);
    // Her own ids still work as cursors (and as ids: the test above).
    expect((await ana.get(`/api/tasks?projectId=${projectA}&after=${taskA}`)).status).toBe(200);
    expect((await ana.get(`/api/projects?after=${projectA}`)).status).toBe(200);
  });

  it('subscribes a signed-in person’s socket only to the projects they may read', async () => {
    /** A socket of the board's own page, signed in with `cookie`, once connected. */
    const boardSocket = async (cookie: string) => {
      const socket = connectSocket(api.url, {
        transports: ['websocket'],
        extraHeaders: { cookie, origin: api.url },
        reconnection: false,
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      return socket;
    };
    const bob = await signedIn('bob');
    const socket = await boardSocket(bob.cookie());
    const subscribe = (projectId: string) =>
      new Promise<any>((resolve) => socket.emit('subscribe', { projectId }, resolve));
    expect(await subscribe(projectB)).toMatchObject({ ok: true });
    // Every subscribe asks again: a session ended meanwhile subscribes to nothing more.
    const other = await signedIn('bob');
    const late = await boardSocket(other.cookie());
    expect((await other.post('/api/auth/logout')).status).toBe(204);
    const refused = await new Promise<any>((resolve) =>
      late.emit('subscribe', { projectId: projectB }, resolve),
    );
    expect(refused).toEqual({
      error: { code: 'unauthorized', message: 'this credential works no more', retryable: false },
    });
    late.close();
    // A socket that subscribed and then only listens ends too when its session does: it is
    // disconnected, and connecting again is refused.
    const third = await signedIn('bob');
    const listening = await boardSocket(third.cookie());
    expect(
      await new Promise<any>((resolve) =>
        listening.emit('subscribe', { projectId: projectB }, resolve),
      ),
    ).toMatchObject({ ok: true });
    const ended = new Promise<string>((resolve) => listening.once('disconnect', resolve));
    expect((await third.post('/api/auth/logout')).status).toBe(204);
    expect(await within('the signed-out socket to end', 10_000, ended)).toBe(
      'io server disconnect',
    );
    const again = await new Promise<Error>((resolve) => {
      listening.once('connect_error', resolve);
      listening.connect();
    });
    expect(again.message).toMatch(/^unauthorized/);
    listening.close();
    // Another project is refused as one that does not exist.
    const unknown = randomUUID();
    expect(await subscribe(projectA)).toEqual({
      error: { code: 'not_found', message: `project ${projectA} does not exist`, retryable: false },
    });
    expect(await subscribe(unknown)).toEqual({
      error: { code: 'not_found', message: `project ${unknown} does not exist`, retryable: false },
    });
    socket.close();

    // A cookie from another site's page is not enough.
    const foreign = connectSocket(api.url, {
      transports: ['websocket'],
      extraHeaders: { cookie: bob.cookie(), origin: 'https://evil.example' },
      reconnection: false,
    });
    const error = await new Promise<Error>((resolve) => foreign.once('connect_error', resolve));
    expect(error.message).toMatch(/^unauthorized/);
    foreign.close();
  });

  it("lets an administrator see and revoke a person's tokens, and nobody else", async () => {
    const ana = await signedIn('ana');
    const leaked = await ana.post('/api/tokens', { name: 'leaked' });
    expect(leaked.status).toBe(201);
    const path = `/api/users/${people.ana!.id}/tokens`;
    expect((await ana.get(path)).status).toBe(403);
    const listed = await admin.get(path);
    expect(listed.status).toBe(200);
    expect(listed.body.tokens).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: leaked.body.id, name: 'leaked' })]),
    );
    expect(JSON.stringify(listed.body)).not.toContain(leaked.body.token);
    expect((await admin.get(`/api/users/${randomUUID()}/tokens`)).status).toBe(404);
    expect((await admin.del(`${path}/${randomUUID()}`)).status).toBe(404);
    expect((await admin.del(`${path}/not-a-uuid`)).status).toBe(400);
    // Someone else's token, named under the wrong person: refused, and still working.
    expect((await admin.del(`/api/users/${people.bob!.id}/tokens/${leaked.body.id}`)).status).toBe(
      404,
    );
    expect((await apiClient(api.url, leaked.body.token).get('/api/session')).status).toBe(200);
    const revoked = await admin.del(`${path}/${leaked.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    // Revoked again: the same answer, and no second audit entry (checked below).
    expect((await admin.del(`${path}/${leaked.body.id}`)).body.revokedAt).toBe(
      revoked.body.revokedAt,
    );
    await new Promise((r) => setTimeout(r, 1100));
    expect((await apiClient(api.url, leaked.body.token).get('/api/session')).status).toBe(401);
    const audit = (await wholeAudit(admin)) as Array<{
      action: string;
      actor: { kind: string };
      detail: { tokenId?: string };
    }>;
    const revocations = audit.filter(
      (e) => e.action === 'token.revoked' && e.detail.tokenId === leaked.body.id,
    );
    expect(revocations.map((e) => e.actor.kind)).toEqual(['admin']);
  });

  it('gives a person tokens for scripts: shown once, limited as asked, revoked within a second', async () => {
    const ana = await signedIn('ana');
    // Only from a board session, and only a person's.
    expect((await admin.post('/api/tokens', { name: 'ci' })).status).toBe(403);
    const bad = await ana.post('/api/tokens', { name: '', expiresAt: '2020-01-01T00:00:00Z' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/expiresAt: must be in the future/);

    const made = await ana.post('/api/tokens', { name: 'ci' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'ci', projectIds: null, revokedAt: null });
    expect(made.body.token).toMatch(/^awp_[\w-]{43}$/);
    const row = await api.deps.db.personalToken.findUniqueOrThrow({ where: { id: made.body.id } });
    expect(JSON.stringify(row)).not.toContain(made.body.token);

    // A project the person is not a member of is named as one that does not exist.
    const others = await ana.post('/api/tokens', { name: 'b', projectIds: [projectB] });
    const unknownId = randomUUID();
    const unknown = await ana.post('/api/tokens', { name: 'b', projectIds: [unknownId] });
    expect(others.status).toBe(404);
    expect({ ...others.body.error, requestId: 0 }).toEqual({
      ...unknown.body.error,
      requestId: 0,
      message: unknown.body.error.message.replace(unknownId, projectB),
    });
    const script = apiClient(api.url, made.body.token);
    const session = (await script.get('/api/session')).body.principal;
    expect(session).toMatchObject({ kind: 'user', id: people.ana!.id, role: 'member' });
    // Bearer requests need no Origin; the token acts as its person, no more.
    expect(
      (
        await script.post('/api/tasks', {
          projectId: projectA,
          title: 'by script',
          description: '',
        })
      ).status,
    ).toBe(201);
    expect((await script.get(`/api/tasks?projectId=${projectB}`)).status).toBe(404);
    expect((await script.post('/api/tokens', { name: 'more' })).status).toBe(403);
    const listed = await ana.get('/api/tokens');
    expect(listed.body.tokens.map((t: { id: string }) => t.id)).toContain(made.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(made.body.token);

    // An administrator's token limited to one project reaches that project only, as a member.
    const ada = await signedIn('ada');
    const limited = await ada.post('/api/tokens', { name: 'b only', projectIds: [projectB] });
    const limitedClient = apiClient(api.url, limited.body.token);
    expect((await limitedClient.get(`/api/tasks?projectId=${projectB}`)).status).toBe(200);
    expect((await limitedClient.get(`/api/tasks?projectId=${projectA}`)).status).toBe(404);
    expect((await limitedClient.get('/api/users')).status).toBe(403);
    // Even an administrator's unlimited token manages no people (it could mint passwords).
    const adaToken = apiClient(
      api.url,
      (await ada.post('/api/tokens', { name: 'all' })).body.token,
    );
    const viaToken = await adaToken.post('/api/users', {
      email: 'x@example.com',
      name: 'x',
      role: 'admin',
    });
    expect(viaToken.status).toBe(403);
    expect(viaToken.body.error.message).toMatch(/not with a personal token/);

    // Revoked: refused at once (and within a second on every process).
    const revoked = await fetch(`${api.url}/api/tokens/${made.body.id}`, {
      method: 'DELETE',
      headers: { cookie: ana.cookie(), origin: api.url },
    });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: unknown }).revokedAt).toEqual(
      expect.any(String),
    );
    await new Promise((r) => setTimeout(r, 1100));
    expect((await script.get('/api/session')).status).toBe(401);
    // Someone else's token is not theirs to revoke.
    const foreign = await fetch(`${api.url}/api/tokens/${limited.body.id}`, {
      method: 'DELETE',
      headers: { cookie: ana.cookie(), origin: api.url },
    });
    expect(foreign.status).toBe(404);
    expect((await limitedClient.get(`/api/tasks?projectId=${projectB}`)).status).toBe(200);
  });

  it('applies role and membership changes within a second, and removal ends every session', async () => {
    const vic = await signedIn('vic');
    const patch = await fetch(`${api.url}/api/users/${people.vic!.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'member', projectIds: [projectA, projectB] }),
    });
    expect(patch.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const created = await vic.post('/api/tasks', {
      projectId: projectB,
      title: 'now a member',
      description: '',
    });
    expect(created.status).toBe(201);

    // A new password ends the person's sessions and tokens.
    const vicToken = (await vic.post('/api/tokens', { name: 'script' })).body.token;
    const reset = await fetch(`${api.url}/api/users/${people.vic!.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resetPassword: true }),
    });
    expect(reset.status).toBe(200);
    expect((await vic.get('/api/session')).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await apiClient(api.url, vicToken).get('/api/session')).status).toBe(401);

    const removed = await admin.del(`/api/users/${people.vic!.id}`);
    expect(removed.status).toBe(200);
    expect(removed.body.user.disabledAt).toEqual(expect.any(String));
    // Removed again: the same answer, and the audit log still names one removal.
    const twice = await admin.del(`/api/users/${people.vic!.id}`);
    expect(twice.body.user.disabledAt).toBe(removed.body.user.disabledAt);
    const removals = (
      (await wholeAudit(admin)) as Array<{ action: string; detail?: { userId?: string } }>
    ).filter((e) => e.action === 'user.removed' && e.detail?.userId === people.vic!.id);
    expect(removals).toHaveLength(1);
    const again = await browser(api.url).post('/api/auth/login', {
      email: people.vic!.email,
      password: people.vic!.password,
    });
    expect(again.status).toBe(401);
  });
});
