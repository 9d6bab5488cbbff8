import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO_ROOT } from '../platform/config';
import { startTestApi } from '../test/support/api';
import type { TestApi } from '../test/support/api';
import { apiClient } from '../test/support/http';
import { callTool } from '../test/support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from '../test/support/worker';

const BIN = path.join(REPO_ROOT, 'bin', 'aiworker-mcp');

describe('the stdio MCP server (bin/aiworker-mcp)', () => {
  const taskQueue = uniqueTaskQueue('stdio');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  /** What the bin needs besides the token; an agent's MCP config would set the same. */
  let env: Record<string, string>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    env = {
      PATH: process.env.PATH!,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: process.env.DATABASE_URL!,
      LOG_LEVEL: 'warn',
    };
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  it('serves the agent tools to a client that launches it, from any folder', async () => {
    const projectId = (await http.post('/api/projects', { name: `stdio-${randomUUID()}` })).body.id;
    const { body: agent } = await http.post('/api/agents', {
      name: 'stdio agent',
      projectIds: [projectId],
    });
    const taskId = (
      await http.post('/api/tasks', { projectId, title: 'over stdio', description: 'd' })
    ).body.taskId;

    const client = new Client({ name: 'stdio-test', version: '0.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: BIN,
        cwd: os.tmpdir(),
        env: { ...env, AIWORKER_AGENT_TOKEN: agent.token },
        stderr: 'pipe',
      }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('get_next_task');
    const next = await callTool(client, 'get_next_task', {});
    expect(next.data.task).toMatchObject({ id: taskId, title: 'over stdio' });
    const asked = await callTool(client, 'ask_user_question', { taskId, question: 'stdio?' });
    expect(asked.isError).toBe(false);
    expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({
      state: 'needs_input',
      assignedAgentId: agent.agentId,
    });
    await client.close();
  });

  it('refuses to start without a token that belongs to an agent, and says why', () => {
    const none = spawnSync(BIN, [], { env, encoding: 'utf8', input: '' });
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('set AIWORKER_AGENT_TOKEN');
    const wrong = spawnSync(BIN, [], {
      env: { ...env, AIWORKER_AGENT_TOKEN: 'aw_not_a_token' },
      encoding: 'utf8',
      input: '',
    });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('does not belong to a registered agent');
    expect(wrong.stderr).not.toContain('aw_not_a_token');
  });
});
