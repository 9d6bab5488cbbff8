import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO_ROOT } from '../platform/config';
import { startTestApi } from '../test/support/api';
import type { TestApi } from '../test/support/api';
import { apiClient } from '../test/support/http';
import { callTool, connectAgent } from '../test/support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from '../test/support/worker';

const BIN = path.join(REPO_ROOT, 'bin', 'aiworker-mcp');

/**
 * Runs the bin with stdin already closed, as a launcher that gives up at once would. Not spawnSync:
 * the test API runs in this process and must keep answering the bin meanwhile.
 */
function runBin(env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, [], { cwd: os.tmpdir(), env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
    child.stdin.end();
  });
}

describe('the stdio MCP server (bin/aiworker-mcp)', () => {
  const taskQueue = uniqueTaskQueue('stdio');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  /**
   * What the bin needs besides the token, as an agent's MCP config would set it: no DATABASE_URL,
   * Temporal or Redis settings, since it only relays to the API.
   */
  let env: Record<string, string>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    env = { PATH: process.env.PATH!, AIWORKER_URL: api.url };
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
    // Exactly the API's tools and instructions: the relay defines nothing of its own.
    const direct = await connectAgent(api.url, agent.token);
    expect(tools).toEqual((await direct.listTools()).tools);
    expect(client.getInstructions()).toBe(direct.getInstructions());
    expect(client.getInstructions()).toContain('get_next_task');
    await direct.close();
    const next = await callTool(client, 'get_next_task', {});
    expect(next.data.task).toMatchObject({ id: taskId, title: 'over stdio' });
    const asked = await callTool(client, 'ask_user_question', { taskId, question: 'stdio?' });
    expect(asked.isError).toBe(false);
    expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({
      state: 'needs_input',
      assignedAgentId: agent.agentId,
    });
    // A long wait: progress comes through the relay under the client's own token.
    const progress: Array<{ progress: number; message?: string }> = [];
    const waited = await client.callTool(
      { name: 'check_response', arguments: { taskId, waitSeconds: 12 } },
      undefined,
      { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true },
    );
    expect(waited.structuredContent).toMatchObject({ answered: false });
    expect(progress[0]).toMatchObject({
      progress: 1,
      message: expect.stringMatching(/^waiting for the answer/),
    });
    await client.close();

    // When the launcher closes stdin, the relay ends cleanly, and its log never shows the token.
    const ended = await runBin({ ...env, AIWORKER_AGENT_TOKEN: agent.token });
    expect(ended.status).toBe(0);
    expect(ended.stderr).toContain('relaying MCP over stdio');
    expect(ended.stderr).not.toContain(agent.token);
  });

  it('refuses to start without a token that belongs to an agent, and says why', async () => {
    const none = await runBin(env);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('set AIWORKER_AGENT_TOKEN');
    const wrong = await runBin({ ...env, AIWORKER_AGENT_TOKEN: 'aw_not_a_token' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('refused AIWORKER_AGENT_TOKEN (401)');
    expect(wrong.stderr).not.toContain('aw_not_a_token');
    const admin = await runBin({ ...env, AIWORKER_AGENT_TOKEN: api.adminToken });
    expect(admin.status).toBe(1);
    expect(admin.stderr).toContain(
      "refused AIWORKER_AGENT_TOKEN (403): it is not an agent's token",
    );
    expect(admin.stderr).not.toContain(api.adminToken);
  });

  it('says so when the API cannot be reached', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const down = await runBin({
      ...env,
      AIWORKER_URL: `http://127.0.0.1:${port}`,
      AIWORKER_AGENT_TOKEN: 'aw_any',
    });
    expect(down.status).toBe(1);
    expect(down.stderr).toContain(
      `cannot reach the aiworker API at http://127.0.0.1:${port}/mcp (ECONNREFUSED)`,
    );
    expect(down.stderr).not.toContain('aw_any');
  });
});
