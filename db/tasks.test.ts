import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../contracts/events';
import { newTaskView } from '../contracts/task';
import type { TaskQuestion, TaskView } from '../contracts/task';
import { testConfig } from '../test/support/api';
import { closeDb, createDb } from './client';
import type { Db } from './client';
import { applyTaskChange, findTask, taskEvents } from './tasks';

/**
 * The projection of a task's changes into the read model: the row and its questions only move
 * forward, and every event is stored once, whatever the order and the retries.
 */
describe('applyTaskChange', () => {
  let db: Db;
  let projectId: string;
  let agentId: string;

  beforeAll(async () => {
    db = createDb(testConfig().databaseUrl, { connectionLimit: 2 });
    projectId = randomUUID();
    await db.project.create({ data: { id: projectId, name: `projection-${projectId}` } });
    agentId = randomUUID();
    await db.agent.create({
      data: {
        id: agentId,
        name: 'projection',
        tokenHash: `${randomUUID()}${randomUUID()}`.replaceAll('-', ''),
      },
    });
  });
  afterAll(async () => {
    await closeDb(db);
  });

  // A new task as its workflow creates it.
  const base = (id: string): TaskView =>
    newTaskView(
      {
        task: { id, projectId, title: 'projected', description: 'd', priority: 0 },
        reminderAfterMs: 0,
        leaseMs: 0,
      },
      new Date(),
    );
  const event = (taskId: string, taskSeq: number): RecordedEvent<'task:progress'> => ({
    taskSeq,
    type: 'task:progress',
    payload: { taskId, agentId, message: `change ${taskSeq}` },
    at: new Date().toISOString(),
  });
  const questionIds = [randomUUID(), randomUUID()];
  const question = (n: number, answer: string | null = null): TaskQuestion => ({
    id: questionIds[n - 1]!,
    question: `question ${n}`,
    agentId,
    answer,
    askedAt: new Date(Date.UTC(2026, 11, 3, 12, n)).toISOString(),
    answeredAt: answer === null ? null : new Date(Date.UTC(2026, 11, 3, 13, n)).toISOString(),
  });

  it('stores each event once and moves the row and its questions only forward', async () => {
    const id = randomUUID();
    const first = question(1, 'yes');
    const second = question(2);
    const working = { ...base(id), state: 'in_progress' as const, assignedAgentId: agentId };
    await applyTaskChange(db, { view: base(id), version: 1, events: [event(id, 1)] });
    const asked = { ...working, state: 'needs_input' as const, questions: [first, second] };
    const once = await applyTaskChange(db, {
      view: asked,
      version: 3,
      events: [event(id, 2), event(id, 3)],
    });
    // A retry of the same change finds its events stored: the same positions, nothing added.
    const again = await applyTaskChange(db, {
      view: asked,
      version: 3,
      events: [event(id, 2), event(id, 3)],
    });
    expect(again.map((e) => e.seq)).toEqual(once.map((e) => e.seq));
    expect(once[1]!.seq - once[0]!.seq).toBe(1);

    const answered = { ...working, questions: [first, question(2, 'no')] };
    await applyTaskChange(db, { view: answered, version: 4, events: [event(id, 4)] });
    // A late retry of the older change leaves the row and its questions as they are.
    await applyTaskChange(db, { view: asked, version: 3, events: [event(id, 2), event(id, 3)] });

    const task = await findTask(db, id);
    expect(task).toMatchObject({ state: 'in_progress', assignedAgentId: agentId });
    expect(task!.questions).toEqual([
      expect.objectContaining({ id: first.id, answer: 'yes', askedAt: first.askedAt }),
      expect.objectContaining({
        id: second.id,
        answer: 'no',
        answeredAt: question(2, 'no').answeredAt,
      }),
    ]);
    const events = await taskEvents(db, id, 0, 100);
    expect(events.map((e) => e.taskSeq)).toEqual([1, 2, 3, 4]);
  });
});
