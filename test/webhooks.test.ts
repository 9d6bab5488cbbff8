import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { ADMIN_ACTOR } from '../contracts/actor';
import { taskWorkflowId } from '../contracts/task';
import type { RecordedWebhookChange } from '../contracts/webhook';
import { webhookChangeWorkflowId, webhookDeliveryWorkflowId } from '../contracts/webhook';
import { fetchRuns } from './replay/corpus';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { freePort } from './support/free-port';
import { apiClient, createProject } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { within } from './support/within';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Polls `read` until `done` holds (no timing is asserted: `within` only bounds a stuck test). */
async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean) {
  let last: T | undefined;
  return await within(
    what,
    60_000,
    (async () => {
      for (;;) {
        last = await read();
        if (done(last)) return last;
        await sleep(100);
      }
    })(),
    () => last,
  );
}

/** A webhook receiver on a given port: what it was sent, with the path and the raw body. */
async function startReceiver(port: number) {
  const received: Array<{ path: string; headers: http.IncomingHttpHeaders; raw: string }> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, raw });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    received,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Everything a workflow's history holds as text: its strings, and every payload (inputs, results,
 * memo, search attributes, headers) decoded from its bytes.
 */
async function historyText(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return parts.join('\n');
}

/** The ids of a webhook's change workflows (visibility lags behind a little: polled). */
async function changeWorkflowIds(client: Client, webhookId: string, count: number) {
  const prefix = webhookChangeWorkflowId(webhookId, '');
  return await until(
    `${count} change workflow(s) of webhook ${webhookId}`,
    async () => {
      const ids: string[] = [];
      for await (const wf of client.workflow.list({
        query: `WorkflowType = 'changeWebhookWorkflow'`,
      })) {
        if (wf.workflowId.startsWith(prefix)) ids.push(wf.workflowId);
      }
      return ids;
    },
    (ids) => ids.length >= count,
  );
}

/** A person signed in with the session cookie, sending the board's Origin. */
async function signIn(baseUrl: string, email: string, password: string) {
  const login = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: baseUrl },
    body: JSON.stringify({ email, password }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        cookie,
        origin: baseUrl,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

describe('who did it, the audit log and webhooks', () => {
  const taskQueue = uniqueTaskQueue('webhooks');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;
  let projectId: string;
  let ana: { id: string; email: string; password: string };

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    admin = apiClient(api.url, api.adminToken);
    projectId = (await createProject(admin, { name: `hooks-${randomUUID()}` })).id;
    const email = `ana-${randomUUID().slice(0, 8)}@example.com`;
    const made = await admin.post('/api/users', {
      email,
      name: 'Ana',
      role: 'member',
      projectIds: [projectId],
    });
    ana = { id: made.body.user.id, email, password: made.body.password };
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  it('refuses bad webhooks, and people who are not administrators', async () => {
    const good = {
      url: 'http://127.0.0.1:9/hook',
      secret: 's'.repeat(16),
      events: ['task:needs_input'],
    };
    const bad = [
      { ...good, url: 'ftp://example.com/hook' },
      { ...good, url: 'not a url' },
      { ...good, secret: 'short' },
      { ...good, events: [] },
      { ...good, events: ['agent:status'] },
      { ...good, extra: 1 },
    ];
    for (const body of bad) {
      const res = await admin.post(`/api/projects/${projectId}/webhooks`, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect((await admin.post(`/api/projects/${randomUUID()}/webhooks`, good)).status).toBe(404);
    expect((await admin.del(`/api/projects/${projectId}/webhooks/${randomUUID()}`)).status).toBe(
      404,
    );
    const asAna = await signIn(api.url, ana.email, ana.password);
    const refused = await asAna('POST', `/api/projects/${projectId}/webhooks`, good);
    expect(refused.status).toBe(403);
    expect((await asAna('GET', `/api/projects/${projectId}/webhooks`)).status).toBe(403);
    expect((await asAna('GET', '/api/audit')).status).toBe(403);
    expect((await admin.get(`/api/projects/${projectId}/webhooks`)).body.webhooks).toEqual([]);
  });

  it('delivers a signed task:needs_input to a receiver that was down, and names every actor', async () => {
    // The receiver's port is chosen now but nothing listens there yet.
    const port = await freePort();
    const secret = randomUUID();
    const created = await admin.post(`/api/projects/${projectId}/webhooks`, {
      url: `http://127.0.0.1:${port}/hook`,
      secret,
      events: ['task:needs_input', 'task:ready_to_test'],
    });
    expect(created.status).toBe(201);
    const webhookId = created.body.id;
    expect(JSON.stringify(created.body)).not.toContain(secret);

    const agent = (await admin.post('/api/agents', { name: 'claude-1', projectIds: [projectId] }))
      .body;
    const asAna = await signIn(api.url, ana.email, ana.password);
    const task = await asAna('POST', '/api/tasks', {
      projectId,
      title: 'Fix login',
      description: '',
    });
    expect(task.status).toBe(201);
    const taskId = task.body.taskId;
    const client = await connectAgent(api.url, agent.token);
    expect((await callTool(client, 'get_next_task', { projectId })).data.task?.id).toBe(taskId);
    const question = 'Which page? <!channel> & <https://evil.example|the docs>';
    const asked = await callTool(client, 'ask_user_question', { taskId, question });
    expect(asked.isError).toBe(false);

    // Down: attempts fail, the delivery stays pending and says why.
    const hook = () => admin.get(`/api/projects/${projectId}/webhooks/${webhookId}`);
    const failing = await until(
      'three failed attempts',
      hook,
      (r) => (r.body.recentDeliveries?.[0]?.attempts ?? 0) >= 3,
    );
    expect(failing.body.recentDeliveries[0]).toMatchObject({
      eventType: 'task:needs_input',
      state: 'pending',
      lastError: 'connection refused',
      lastStatus: null,
    });
    expect(JSON.stringify(failing.body)).not.toContain(secret);

    // Back up: the next attempt lands, signed with the secret.
    const receiver = await startReceiver(port);
    try {
      await until(
        'the delivery',
        () => Promise.resolve(receiver.received.length),
        (n) => n >= 1,
      );
      const [got] = receiver.received;
      const expected = `sha256=${createHmac('sha256', secret).update(got!.raw).digest('hex')}`;
      expect(got!.headers['x-aiworker-signature']).toBe(expected);
      expect(got!.headers['x-aiworker-event']).toBe('task:needs_input');
      const body = JSON.parse(got!.raw);
      expect(body).toMatchObject({
        type: 'task:needs_input',
        taskId,
        projectId,
        question,
        actor: { kind: 'agent', id: agent.agentId, name: 'claude-1' },
      });
      // The agent's words reach Slack-compatible receivers as text, not as markup.
      expect(body.text).toContain(
        'claude-1 asked on "Fix login": Which page? &lt;!channel&gt; &amp; &lt;https://evil.example|the docs&gt;',
      );
      const settled = await until(
        'delivered',
        hook,
        (r) => r.body.recentDeliveries[0].state === 'delivered',
      );
      expect(settled.body.deliveries).toEqual({ pending: 0, delivered: 1, failed: 0 });
    } finally {
      await receiver.close();
    }

    // Ana answers: the event and the workflow's history name her.
    const answered = await asAna('POST', `/api/tasks/${taskId}/respond`, {
      answer: 'The login page',
    });
    expect(answered.status).toBe(200);
    const events = (await admin.get(`/api/tasks/${taskId}/events`)).body.events as Array<{
      type: string;
      data: { actor: { kind: string; id: string; name: string } };
    }>;
    const actorOf = (type: string) => events.find((e) => e.type === type)?.data.actor;
    const anaActor = { kind: 'user', id: ana.id, name: 'Ana' };
    expect(actorOf('task:created')).toEqual(anaActor);
    expect(actorOf('task:needs_input')).toEqual({
      kind: 'agent',
      id: agent.agentId,
      name: 'claude-1',
    });
    expect(actorOf('task:question_answered')).toEqual(anaActor);
    for (const e of events) expect(e.data.actor.kind).toMatch(/^(user|agent|admin|system)$/);

    // Every run of the task (the test run has Temporal suggest continue-as-new early).
    const runs = await fetchRuns(api.deps.temporal.client, taskWorkflowId(taskId));
    const updates = runs
      .flatMap((r) => r.history.events ?? [])
      .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest)
      .filter((r) => r?.meta?.updateId && r.input?.name === 'answerQuestion');
    const args = updates[0]!.input!.args!.payloads![0]!.data!;
    expect(JSON.parse(Buffer.from(args).toString()).actor).toEqual(anaActor);

    // The audit log lists people's actions, not agents'.
    const audit = (await admin.get(`/api/audit?projectId=${projectId}`)).body;
    const actions = (
      audit.entries as Array<{ action: string; actor: { name: string }; taskId: string | null }>
    ).map((e) => `${e.actor.name}: ${e.action}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'administrator: webhook.created',
        'Ana: task.created',
        'Ana: task.answered',
      ]),
    );
    expect(actions.some((a) => a.startsWith('claude-1'))).toBe(false);
    const page = (await admin.get(`/api/audit?projectId=${projectId}&limit=1`)).body;
    expect(page.entries).toHaveLength(1);
    const next = (await admin.get(`/api/audit?projectId=${projectId}&limit=1&after=${page.next}`))
      .body;
    expect(next.entries[0].id).not.toBe(page.entries[0].id);
    expect((await admin.get('/api/audit?after=-1')).status).toBe(400);

    // Deleting the webhook: it is gone, and the deletion is audited.
    expect((await admin.del(`/api/projects/${projectId}/webhooks/${webhookId}`)).status).toBe(200);
    expect((await hook()).status).toBe(404);
    await client.close();
  });

  it('keeps the secret out of every workflow history, and still signs with it', async () => {
    const temporal = api.deps.temporal.client;
    const receiver = await startReceiver(0);
    try {
      const url = (path: string) => `http://127.0.0.1:${receiver.port}${path}`;
      const secret = `new-${randomUUID()}`;
      const created = await admin.post(`/api/projects/${projectId}/webhooks`, {
        url: url('/new'),
        secret,
        events: ['task:created'],
      });
      expect(created.status).toBe(201);
      const webhookId = created.body.id as string;

      // A creation the previous release started, still carrying the secret inline, whose
      // activity runs on this release.
      const earlierId = randomUUID();
      const earlierSecret = `earlier-${randomUUID()}`;
      const earlier: RecordedWebhookChange = {
        action: 'create',
        webhookId: earlierId,
        projectId,
        url: url('/earlier'),
        secret: earlierSecret,
        events: ['task:created'],
        actor: ADMIN_ACTOR,
      };
      await temporal.workflow.execute('changeWebhookWorkflow', {
        taskQueue,
        workflowId: webhookChangeWorkflowId(earlierId, randomUUID()),
        args: [earlier],
      });

      // Another project's events first: the log's row ids and this project's seqs part ways.
      const elsewhere = (await createProject(admin, { name: `hooks-other-${randomUUID()}` })).id;
      for (const title of ['a', 'b', 'c']) {
        await admin.post('/api/tasks', { projectId: elsewhere, title, description: '' });
      }
      const task = await admin.post('/api/tasks', {
        projectId,
        title: 'Tell the hooks',
        description: '',
      });
      expect(task.status).toBe(201);
      const sent = await until(
        'both deliveries',
        () =>
          Promise.resolve(
            receiver.received.filter((r) => JSON.parse(r.raw).taskId === task.body.taskId),
          ),
        (r) => r.length >= 2,
      );
      const signedWith = (path: string, key: string) => {
        const got = sent.find((r) => r.path === path)!;
        const expected = `sha256=${createHmac('sha256', key).update(got.raw).digest('hex')}`;
        expect(got.headers['x-aiworker-signature']).toBe(expected);
        return JSON.parse(got.raw).seq as number;
      };
      const seq = signedWith('/new', secret);
      signedWith('/earlier', earlierSecret);
      // The delivery names the event by its place in the project's log, as boards see it.
      const logged = (await admin.get(`/api/tasks/${task.body.taskId}/events`)).body
        .events as Array<{ type: string; data: { seq: number } }>;
      expect(logged.find((e) => e.type === 'task:created')?.data.seq).toBe(seq);

      // The histories hold the webhook's address (the payloads are read) but not its secret.
      const [changeId] = await changeWorkflowIds(temporal, webhookId, 1);
      const delivery = webhookDeliveryWorkflowId(webhookId, seq);
      // Read until the delivery's workflow reads as completed (the receiver may hear the POST
      // before the run's completion is recorded).
      await until(
        `delivery workflow ${delivery} completed`,
        () =>
          temporal.workflow
            .getHandle(delivery)
            .describe()
            .then(
              (d) => d.status.name,
              (err: Error) => err.name,
            ),
        (status) => status === 'COMPLETED',
      );
      for (const workflowId of [changeId!, delivery]) {
        const text = await historyText(temporal, workflowId);
        expect(text).toContain(webhookId);
        expect(text).not.toContain(secret);
      }
      expect(await historyText(temporal, changeId!)).toContain(url('/new'));
      // The same reading finds a secret where a history does hold one.
      const [earlierChange] = await changeWorkflowIds(temporal, earlierId, 1);
      expect(await historyText(temporal, earlierChange!)).toContain(earlierSecret);

      for (const id of [webhookId, earlierId]) {
        expect((await admin.del(`/api/projects/${projectId}/webhooks/${id}`)).status).toBe(200);
      }
    } finally {
      await receiver.close();
    }
  });
});
