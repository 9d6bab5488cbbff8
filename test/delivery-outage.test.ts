import { randomBytes } from 'node:crypto';
import { startGiteaTestServer } from './servers/gitea-server';
import type { GiteaTestServer } from './servers/gitea-server';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Text an agent, the board or a webhook must never get from an outage: hosts, codes, library words. */
const LEAKS = /127\.0\.0\.1|localhost|ECONN|fetch failed|\b5\d\d\b|gitea answered|at \w+ \(/i;

/**
 * A delivery step that meets an outage of the forge on every attempt: the agent is told to try
 * again (`unavailable`), in aiworker's words; the board sees the same words, the worker's log the
 * cause.
 */
describe('a delivery step during a forge outage', () => {
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

  it('is unavailable and retryable for the agent, and names no host or cause', async () => {
    const http = apiClient(api.url, api.adminToken);
    const name = `outage-${randomBytes(4).toString('hex')}`;
    const project = (
      await http.post('/api/projects', {
        name,
        repository: { provider: 'gitea', owner: 'acme', name },
      })
    ).body as { id: string };
    const { body: agent } = await http.post('/api/agents', {
      name: 'outage',
      projectIds: [project.id],
    });
    const taskId = (
      await http.post('/api/tasks', { projectId: project.id, title: 'x', description: 'y' })
    ).body.taskId as string;
    const client = await connectAgent(api.url, agent.token);
    expect((await callTool(client, 'get_next_task', { waitSeconds: 20 })).data).toMatchObject({
      task: { id: taskId },
    });
    expect((await callTool(client, 'create_branch', { taskId })).isError).toBe(false);

    // Every read of a branch fails, as Gitea does when it is down behind its proxy.
    gitea.failNext({ method: 'GET', path: /\/branches\// }, { times: 1000, status: 502 });
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
});
