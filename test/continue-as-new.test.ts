import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import {
  askQuestionUpdate,
  claimTaskUpdate,
  continueAsNewSignal,
  taskViewQuery,
} from '../contracts/messages';
import { TASK_SNAPSHOT_VERSION, taskWorkflowId } from '../contracts/task';
import type { TaskWorkflowInput } from '../contracts/task';
import { executeTaskUpdate } from '../platform/task-updates';
import { registerTestAgent } from './support/agents';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

const HOUR_MS = 3_600_000;

/**
 * Continue-as-new as a clean break: an operator moves a waiting task onto the current code
 * (`continueAsNew` signal, `npm run workflows:refresh`). The task is the same afterwards, and the
 * lease and the question reminder keep their deadlines instead of starting over.
 */
describe('a task asked to continue as new', () => {
  const taskQueue = uniqueTaskQueue('refresh');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue, leaseMs: HOUR_MS, questionReminderMs: HOUR_MS });
    http = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  /** Signals the task and waits for its next run; answers that run's input and first timer. */
  async function refresh(handle: WorkflowHandle, fromRun: string) {
    await handle.signal(continueAsNewSignal);
    for (;;) {
      const { runId } = await handle.describe();
      if (runId !== fromRun) {
        const events = (
          await api.deps.temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()
        ).events!;
        const input = defaultPayloadConverter.fromPayload<TaskWorkflowInput>(
          events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!,
        );
        const timer = events.find(
          (e) => e.timerStartedEventAttributes,
        )?.timerStartedEventAttributes;
        if (timer) {
          const { seconds, nanos } = timer.startToFireTimeout!;
          return { runId, input, timerMs: Number(seconds ?? 0) * 1000 + (nanos ?? 0) / 1e6 };
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('keeps the task, its lease and its reminder deadline in the new run', async () => {
    const projectId = (await createProject(http, { name: `refresh-${randomUUID()}` })).id as string;
    const agentId = await registerTestAgent(api.deps.db, 'refresh agent');
    const created = await http.post('/api/tasks', {
      projectId,
      title: 'Refresh me',
      description: '',
    });
    const taskId = created.body.taskId as string;
    const handle = api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));

    await executeTaskUpdate(handle, claimTaskUpdate, { agentId });
    const { questionId } = await executeTaskUpdate(handle, askQuestionUpdate, {
      agentId,
      questionId: randomUUID(),
      question: 'Which font?',
    });
    const before = await handle.query(taskViewQuery);
    const first = (await handle.describe()).runId;

    const waiting = await refresh(handle, first);
    expect(waiting.input.snapshot).toMatchObject({
      version: TASK_SNAPSHOT_VERSION,
      view: before,
      clock: { kind: 'reminder', questionId },
    });
    // The reminder keeps the deadline of the question, not a new hour from now.
    expect(waiting.timerMs).toBeLessThan(HOUR_MS);
    expect(await handle.query(taskViewQuery)).toEqual(before);

    // The task goes on in the new run.
    const answered = await http.post(`/api/tasks/${taskId}/respond`, { answer: 'Serif' });
    expect(answered.body.state).toBe('in_progress');

    const working = await refresh(handle, waiting.runId);
    expect(working.input.snapshot?.clock).toMatchObject({ kind: 'lease' });
    expect(working.timerMs).toBeLessThan(HOUR_MS);
    expect((await handle.query(taskViewQuery)).assignedAgentId).toBe(agentId);
  });
});
