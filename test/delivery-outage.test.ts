import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGiteaTestServer } from './servers/gitea-server';
import type { GiteaTestServer } from './servers/gitea-server';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from './support/worker';
import { within } from './support/within';

/** Text an agent, the board or a webhook must never get from an outage: hosts, codes, library words. */
const LEAKS = /127\.0\.0\.1|localhost|ECONN|fetch failed|\b5\d\d\b|gitea answered|at \w+ \(/i;

/**
 * A delivery step that meets an outage of the forge on every attempt: the agent is told to try
 * again (`unavailable`), in aiworker's words; the board sees the same words, the worker's log the
 * cause.
 */
describe('a delivery step on Gitea, during an outage or while it runs', () => {
  const taskQueue = uniqueTaskQueue('delivery-outage');
  let gitea: GiteaTestServer;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let api: TestApi;

  beforeAll(async () => {
    gitea = await startGiteaTestServer();
    gitea.addOrganization('acme');
    const account = { url: gitea.url, token: gitea.token, username: gitea.username };
    worker = await startTestWorker({ taskQueue, gitea: account });
    api = await startTestApi({ taskQueue, gitea: account });
  });
  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await gitea?.close();
  });

  /** A task of a new Gitea project, claimed over MCP by a new agent of that project. */
  const claimedTask = async (prefix: string) => {
    const http = apiClient(api.url, api.adminToken);
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    const project = (
      await http.post('/api/projects', {
        name,
        repository: { provider: 'gitea', owner: 'acme', name },
      })
    ).body as { id: string };
    const { body: agent } = await http.post('/api/agents', {
      name: prefix,
      projectIds: [project.id],
    });
    const taskId = (
      await http.post('/api/tasks', { projectId: project.id, title: 'x', description: 'y' })
    ).body.taskId as string;
    const client = await connectAgent(api.url, agent.token);
    expect((await callTool(client, 'get_next_task', { waitSeconds: 20 })).data).toMatchObject({
      task: { id: taskId },
    });
    return { http, name, taskId, client };
  };

  it('is unavailable and retryable for the agent, and names no host or cause', async () => {
    const { http, name, taskId, client } = await claimedTask('outage');
    expect((await callTool(client, 'create_branch', { taskId })).isError).toBe(false);

    // Every read of a branch fails, as Gitea does when it is down behind its proxy.
    // (This repository's only: the faults outlast the test.)
    gitea.failNext(
      { method: 'GET', path: new RegExp(`/repos/acme/${name}/branches/`) },
      { times: 1000, status: 502 },
    );
    const preview = await callTool(client, 'trigger_preview', { taskId, waitSeconds: 40 });
    expect(preview.isError).toBe(true);
    expect(preview.refusal).toMatchObject({ code: 'unavailable', retryable: true });
    expect(preview.text).toBe(
      'trigger_preview failed: the forge or the preview runtime did not answer or failed for a ' +
        'reason that may pass (the worker logged it); try again shortly',
    );

    // The board (and webhooks) get the same words.
    const failed = (await http.get(`/api/tasks/${taskId}/events`)).body.events.filter(
      (e: { type: string }) => e.type === 'task:delivery_failed',
    );
    expect(failed).toHaveLength(1);
    expect(JSON.stringify(failed[0])).not.toMatch(LEAKS);
    expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('in_progress');
    await client.close();
  }, 90_000);

  it('sent again while the same step runs, waits for it and answers as the first', async () => {
    const { name, taskId, client } = await claimedTask('again');

    // Gitea holds the branch's creation for 4 s: the step is running while the second call comes
    // (which waits up to 7 s for it).
    const branch = `task-${taskId}-feature`;
    const creations = () =>
      gitea.requests.filter(
        (r) =>
          r.method === 'POST' &&
          r.path === `/api/v1/repos/acme/${name}/branches` &&
          (r.body as { new_branch_name?: unknown } | undefined)?.new_branch_name === branch,
      );
    gitea.delayNext({ method: 'POST', path: new RegExp(`/repos/acme/${name}/branches$`) }, 4_000);
    const first = callTool(client, 'create_branch', { taskId });
    await within(
      'the branch creation to reach Gitea',
      10_000,
      (async () => {
        while (creations().length === 0) await sleep(20);
      })(),
    );
    const second = await callTool(client, 'create_branch', { taskId });
    expect(second.isError).toBe(false);
    expect(second.data).toMatchObject({ branch });
    expect((await first).data).toEqual(second.data);
    // The second ran the step again once the first had ended: the branch was found, not made twice.
    expect(creations()).toHaveLength(2);
    expect(await gitea.branchHead('acme', name, branch)).not.toBeNull();
    await client.close();
  }, 90_000);
});
