import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import {
  askQuestionUpdate,
  claimTaskUpdate,
  beginMergeUpdate,
  markStagedUpdate,
  submitForReviewUpdate,
  taskHistoryQuery,
} from '../contracts/messages';
import { agentIdKey, projectIdKey, taskStateKey } from '../contracts/search-attributes';
import { taskWorkflowId } from '../contracts/task';
import { startTestApi } from './support/api';
import { registerTestAgent } from './support/agents';
import type { TestApi } from './support/api';
import { TestBoard } from './support/board';
import { apiClient, createProject } from './support/http';
import { startTestWorker, uniqueTaskQueue } from './support/worker';
import { executeTaskUpdate } from '../platform/task-updates';

/**
 * A task through every state over HTTP and socket.io against the real stack. The agent's side
 * (take, ask, hand in) is sent straight to the workflow here, as the MCP server does.
 */
describe('task lifecycle', () => {
  const taskQueue = uniqueTaskQueue('lifecycle');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let board: TestBoard;
  let http: ReturnType<typeof apiClient>;
  let projectId: string;
  let agent: string;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    projectId = (await createProject(http, { name: `lifecycle-${randomUUID()}` })).id;
    agent = await registerTestAgent(api.deps.db, 'lifecycle agent');
    board = await TestBoard.connect(api.url, api.adminToken);
    expect(await board.subscribe(projectId)).toEqual({
      ok: true,
      replayed: 0,
      more: false,
      latestSeq: expect.any(Number),
    });
  });
  afterAll(async () => {
    board.close();
    await api.close();
    await worker.stop();
  });

  const handle = (taskId: string): WorkflowHandle =>
    api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId));

  it('goes backlog → in_progress ⇄ needs_input → ready_to_test → changes_requested → … → approved → staging', async () => {
    const created = await http.post('/api/tasks', {
      projectId,
      title: 'Add login',
      description: 'Email and password',
      priority: 2,
    });
    expect(created.status).toBe(201);
    const taskId: string = created.body.taskId;
    expect(created.body).toMatchObject({
      taskId,
      status: 'backlog',
      state: 'backlog',
      projectId,
      title: 'Add login',
    });
    const firstRun = (await handle(taskId).describe()).runId;
    // Read your own write.
    expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({
      id: taskId,
      state: 'backlog',
      questions: [],
    });

    await executeTaskUpdate(handle(taskId), claimTaskUpdate, { agentId: agent });
    const questionId = randomUUID();
    await executeTaskUpdate(handle(taskId), askQuestionUpdate, {
      agentId: agent,
      questionId,
      question: 'Which hash?',
    });
    const asked = await http.get(`/api/tasks/${taskId}`);
    expect(asked.body).toMatchObject({ state: 'needs_input', assignedAgentId: agent });
    expect(asked.body.questions).toEqual([
      {
        id: questionId,
        question: 'Which hash?',
        answer: null,
        askedAt: expect.any(String),
        answeredAt: null,
      },
    ]);
    await board.waitFor((e) => e.type === 'task:needs_input' && e.taskId === taskId);

    const answered = await http.post(`/api/tasks/${taskId}/respond`, {
      answer: 'argon2id',
      questionId,
    });
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ state: 'in_progress' });
    expect(answered.body.questions[0]).toMatchObject({
      answer: 'argon2id',
      answeredAt: expect.any(String),
    });

    await executeTaskUpdate(handle(taskId), submitForReviewUpdate, {
      agentId: agent,
      previewUrl: 'http://localhost:4100',
      branch: `task-${taskId}-feature`,
    });
    expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({
      state: 'ready_to_test',
      previewUrl: 'http://localhost:4100',
      branch: `task-${taskId}-feature`,
    });
    expect(
      (await http.post(`/api/tasks/${taskId}/request-changes`, { feedback: 'Add rate limiting' }))
        .body,
    ).toMatchObject({
      state: 'changes_requested',
    });
    await executeTaskUpdate(handle(taskId), claimTaskUpdate, { agentId: agent });
    await executeTaskUpdate(handle(taskId), submitForReviewUpdate, {
      agentId: agent,
      previewCommit: 'c0ffee',
    });
    expect((await http.post(`/api/tasks/${taskId}/approve`)).body).toMatchObject({
      state: 'approved',
    });
    await executeTaskUpdate(handle(taskId), beginMergeUpdate, { mergeId: 'merge-1' });
    await executeTaskUpdate(handle(taskId), markStagedUpdate, { mergeId: 'merge-1' });
    expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({ state: 'staging' });
    await handle(taskId).result();
    // Search attributes follow the task, for filtering in the Web UI.
    const description = await handle(taskId).describe();
    expect(description.typedSearchAttributes.get(taskStateKey)).toBe('staging');
    expect(description.typedSearchAttributes.get(projectIdKey)).toBe(projectId);
    expect(description.typedSearchAttributes.get(agentIdKey)).toBe(agent);
    // The test server suggests continue-as-new early: the task crossed into new runs on the way.
    expect(description.runId).not.toBe(firstRun);

    // The workflow's history, the read model's event log and the live events agree.
    const expectedStates = [
      'backlog',
      'in_progress',
      'needs_input',
      'in_progress',
      'ready_to_test',
      'changes_requested',
      'in_progress',
      'ready_to_test',
      'approved',
      'staging',
    ];
    const transitions = await handle(taskId).query(taskHistoryQuery);
    expect(transitions.map((t) => t.to)).toEqual(expectedStates);

    const log = (await http.get(`/api/projects/${projectId}/events?after=0`)).body.events.filter(
      (e: { data: { taskId: string } }) => e.data.taskId === taskId,
    );
    const logChanges = log
      .filter((e: { type: string }) => e.type === 'task:status_changed')
      .map((e: { data: { newState: string } }) => e.data.newState);
    expect(['backlog', ...logChanges]).toEqual(expectedStates);
    expect(log.map((e: { type: string }) => e.type)).toEqual([
      'task:created',
      'task:status_changed',
      'task:status_changed',
      'task:needs_input',
      'task:question_answered',
      'task:status_changed',
      'task:status_changed',
      'task:ready_to_test',
      'task:status_changed',
      'task:changes_requested',
      'task:status_changed',
      'task:status_changed',
      'task:ready_to_test',
      'task:status_changed',
      'task:merge_started',
      'task:status_changed',
    ]);
    const lastSeq = log[log.length - 1].data.seq;
    await board.waitFor((e) => e.seq === lastSeq);
    const live = board.events.filter((e) => e.taskId === taskId);
    expect(live.map((e) => e.seq)).toEqual(log.map((e: { data: { seq: number } }) => e.data.seq));
    expect(live.map((e) => e.type)).toEqual(log.map((e: { type: string }) => e.type));
    for (const e of live) expect(e).toMatchObject({ projectId, at: expect.any(String) });
    // seq grows strictly: the order clients see is the order things happened.
    expect(live.map((e) => e.seq)).toEqual([...live.map((e) => e.seq)].sort((a, b) => a - b));
  });

  it('cancels a task that waits on a question, and then refuses every change', async () => {
    const { body } = await http.post('/api/tasks', {
      projectId,
      title: 'Cancel me',
      description: '',
    });
    const taskId: string = body.taskId;
    await executeTaskUpdate(handle(taskId), claimTaskUpdate, { agentId: agent });
    await executeTaskUpdate(handle(taskId), askQuestionUpdate, {
      agentId: agent,
      questionId: randomUUID(),
      question: '?',
    });
    expect(
      (await http.post(`/api/tasks/${taskId}/cancel`, { reason: 'not needed' })).body,
    ).toMatchObject({ state: 'cancelled' });
    await handle(taskId).result();
    const refused = await http.post(`/api/tasks/${taskId}/respond`, { answer: 'late' });
    expect(refused).toEqual({
      status: 409,
      body: {
        error: {
          code: 'conflict',
          message: 'the task is cancelled and can no longer change',
          retryable: false,
          requestId: expect.any(String),
        },
      },
    });
    await board.waitFor(
      (e) => e.type === 'task:status_changed' && e.taskId === taskId && e.newState === 'cancelled',
    );
  });

  it('lists tasks by project and state from the read model', async () => {
    const { body } = await http.post('/api/tasks', {
      projectId,
      title: 'Listed',
      description: 'x',
      priority: 9,
    });
    const all = await http.get(`/api/tasks?projectId=${projectId}`);
    expect(all.body.tasks[0]).toMatchObject({ id: body.taskId, priority: 9 });
    const backlog = await http.get(`/api/tasks?projectId=${projectId}&state=backlog`);
    expect(backlog.body.tasks.map((t: { id: string }) => t.id)).toEqual([body.taskId]);
    const staged = await http.get(`/api/tasks?projectId=${projectId}&state=staging`);
    expect(staged.body.tasks).toHaveLength(1);
  });
});
