import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import {
  askQuestionUpdate,
  claimTaskUpdate,
  beginMergeUpdate,
  markStagedUpdate,
  submitForReviewUpdate,
  taskViewQuery,
} from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { startTestApi } from './support/api';
import { registerTestAgent } from './support/agents';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { uniqueTaskQueue } from './support/worker';
import { WorkerProcess } from './support/worker-process';
import { TaskWorkflowUnresponsive } from '../platform/errors';
import { executeTaskUpdate } from '../platform/task-updates';

/**
 * Sends an update again while the task's workflow does not answer in time (no worker yet); one
 * that landed meanwhile is refused the second time, and the task's state says it landed.
 */
async function untilAnswered(handle: WorkflowHandle, send: () => Promise<unknown>): Promise<void> {
  for (;;) {
    try {
      await send();
      return;
    } catch (err) {
      if (err instanceof TaskWorkflowUnresponsive) continue;
      const view = await handle.query(taskViewQuery);
      if (view.state === 'ready_to_test') return;
      throw err;
    }
  }
}

/**
 * The worker dies (SIGKILL) while tasks wait on questions and while answers are being applied;
 * a new worker takes over and every task finishes with nothing lost or duplicated.
 */
describe('a killed worker', () => {
  const taskQueue = uniqueTaskQueue('durability');
  const worker = new WorkerProcess({ TEMPORAL_TASK_QUEUE: taskQueue });
  let agent: string;
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    await worker.start();
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    agent = await registerTestAgent(api.deps.db, 'durable agent');
  });
  afterAll(async () => {
    await worker.stop();
    await api.close();
  });

  it('loses no question, answer, row or event', async () => {
    const projectId = (await createProject(http, { name: `durability-${randomUUID()}` })).id;
    const tasks: Array<{ id: string; questionId: string }> = [];
    for (let i = 0; i < 8; i += 1) {
      const taskId = (
        await http.post('/api/tasks', { projectId, title: `task ${i}`, description: 'd' })
      ).body.taskId;
      const handle = api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));
      const questionId = randomUUID();
      await executeTaskUpdate(handle, claimTaskUpdate, { agentId: agent });
      await executeTaskUpdate(handle, askQuestionUpdate, {
        agentId: agent,
        questionId,
        question: `question ${i}?`,
      });
      tasks.push({ id: taskId, questionId });
    }

    // Half the answers are on their way when the worker dies; the other half wait through it.
    const inFlight = tasks.slice(0, 4).map((t) =>
      http.post(`/api/tasks/${t.id}/respond`, {
        answer: `answer for ${t.id}`,
        questionId: t.questionId,
      }),
    );
    await worker.kill();
    await worker.start();
    // An answer the worker could not take in time is answered 503 (retryable; it may still take
    // effect): the person repeats it, and it then lands once, or is already there.
    const answered = await Promise.all(
      inFlight.map(async (first, i) => {
        let res = await first;
        while (res.status === 503) {
          expect(res.body.error).toMatchObject({ retryable: true });
          res = await http.post(`/api/tasks/${tasks[i]!.id}/respond`, {
            answer: `answer for ${tasks[i]!.id}`,
            questionId: tasks[i]!.questionId,
          });
        }
        if (res.status !== 409) return res;
        // Refused: the first answer landed; its projection follows.
        for (;;) {
          const now = await http.get(`/api/tasks/${tasks[i]!.id}`);
          if (now.body.state !== 'needs_input') return now;
          await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
    for (const res of answered)
      expect(res).toMatchObject({ status: 200, body: { state: 'in_progress' } });
    for (const t of tasks.slice(4)) {
      expect((await http.get(`/api/tasks/${t.id}`)).body.state).toBe('needs_input');
      expect(
        (await http.post(`/api/tasks/${t.id}/respond`, { answer: `answer for ${t.id}` })).status,
      ).toBe(200);
    }

    // Kill it again in the middle of a burst of transitions, then finish every lifecycle.
    const handles = tasks.map((t) =>
      api.deps.temporal.client.workflow.getHandle(taskWorkflowId(t.id)),
    );
    const submits = handles.map((h) =>
      untilAnswered(h, () =>
        executeTaskUpdate(h, submitForReviewUpdate, { agentId: agent, previewCommit: 'c0ffee' }),
      ),
    );
    await worker.kill();
    await worker.start();
    await Promise.all(submits);
    for (const t of tasks) expect((await http.post(`/api/tasks/${t.id}/approve`)).status).toBe(200);
    await Promise.all(
      handles.map(async (h) => {
        await executeTaskUpdate(h, beginMergeUpdate, { mergeId: 'merge-1' });
        await executeTaskUpdate(h, markStagedUpdate, { mergeId: 'merge-1' });
      }),
    );
    await Promise.all(handles.map((h) => h.result()));

    for (const t of tasks) {
      const task = (await http.get(`/api/tasks/${t.id}`)).body;
      expect(task.state).toBe('staging');
      expect(task.questions).toEqual([
        expect.objectContaining({ id: t.questionId, answer: `answer for ${t.id}` }),
      ]);
      const events = await api.deps.db.taskEvent.findMany({
        where: { taskId: t.id },
        orderBy: { id: 'asc' },
      });
      expect(events.map((e) => e.type)).toEqual([
        'task:created',
        'task:status_changed',
        'agent:status',
        'task:status_changed',
        'task:needs_input',
        'task:question_answered',
        'task:status_changed',
        'task:status_changed',
        'task:ready_to_test',
        'agent:status',
        'task:status_changed',
        'task:merge_started',
        'task:status_changed',
      ]);
      expect(events.map((e) => e.taskSeq)).toEqual(events.map((_, i) => i + 1));
    }
    expect(await api.deps.db.task.count({ where: { projectId } })).toBe(8);
    expect(
      await api.deps.db.taskQuestion.count({ where: { taskId: { in: tasks.map((t) => t.id) } } }),
    ).toBe(8);
  }, 180_000);
});
