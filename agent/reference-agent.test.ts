import { randomUUID } from 'node:crypto';
import { startTestApi } from '../test/support/api';
import type { TestApi } from '../test/support/api';
import { TestBoard } from '../test/support/board';
import { apiClient } from '../test/support/http';
import { startTestWorker, uniqueTaskQueue } from '../test/support/worker';
import { runReferenceAgent } from './reference-agent';
import { createProject } from '../test/support/http';

describe('the reference agent', () => {
  const taskQueue = uniqueTaskQueue('agent');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  it('takes tasks over MCP, asks, waits for the person’s answer, and reports progress', async () => {
    const projectId = (await createProject(http, { name: `agent-${randomUUID()}` })).id;
    const { body: agent } = await http.post('/api/agents', {
      name: 'ref',
      projectIds: [projectId],
    });
    const ids: string[] = [];
    for (const title of ['first', 'second']) {
      ids.push((await http.post('/api/tasks', { projectId, title, description: 'd' })).body.taskId);
    }
    // The person: answers every question as it reaches the board.
    const board = await TestBoard.connect(api.url, api.adminToken, { poll: true });
    await board.subscribe(projectId);
    board.on<{ taskId: string; questionId: string }>('task:needs_input', (e) => {
      void http.post(`/api/tasks/${e.taskId}/respond`, {
        answer: `answer for ${e.taskId}`,
        questionId: e.questionId,
      });
    });
    const answers: string[] = [];
    const worked = await runReferenceAgent({
      url: api.url,
      token: agent.token,
      maxTasks: 2,
      waitSeconds: 5,
      work: async (task, tools, answer) => {
        answers.push(answer!);
        await tools.call('report_progress', { taskId: task.id, message: `used ${answer}` });
      },
    });
    board.close();

    expect(worked).toEqual(ids);
    expect(answers).toEqual(ids.map((id) => `answer for ${id}`));
    for (const id of ids) {
      const task = (await http.get(`/api/tasks/${id}`)).body;
      expect(task).toMatchObject({ state: 'in_progress', assignedAgentId: agent.agentId });
      expect(task.questions).toEqual([
        expect.objectContaining({ answer: `answer for ${id}`, answeredAt: expect.any(String) }),
      ]);
      const types = (await http.get(`/api/tasks/${id}/events`)).body.events.map(
        (e: { type: string; data: { message?: string } }) => e.data.message ?? e.type,
      );
      expect(types).toEqual(
        expect.arrayContaining(['started', 'task:needs_input', `used answer for ${id}`]),
      );
    }
  });
});
