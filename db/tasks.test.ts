import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../contracts/events';
import { newTaskView } from '../contracts/task';
import type { TaskQuestion, TaskView } from '../contracts/task';
import { closeDb } from './client';
import { openTestDb } from '../test/support/db';
import type { Db } from './client';
import { applyTaskChange, claimCandidates, findTask, taskEvents } from './tasks';

/**
 * The projection of a task's changes into the read model: the row and its questions only move
 * forward, and every event is stored once, whatever the order and the retries.
 */
describe('applyTaskChange', () => {
  let db: Db;
  let projectId: string;
  let agentId: string;

  beforeAll(async () => {
    db = openTestDb(2);
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

  it("keeps the row's creation time, and times the row's later changes", async () => {
    const id = randomUUID();
    const created = base(id);
    await applyTaskChange(db, { view: created, version: 1, events: [event(id, 1)] });
    const first = await findTask(db, id);
    expect(first).toMatchObject({ createdAt: created.createdAt, updatedAt: created.createdAt });
    const before = Date.now();
    await applyTaskChange(db, { view: { ...created, title: 'renamed' }, version: 2, events: [] });
    const moved = await findTask(db, id);
    expect(moved).toMatchObject({ title: 'renamed', createdAt: created.createdAt });
    expect(Date.parse(moved!.updatedAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  it("lists claim candidates: the agent's own sent back for changes, then the backlog by priority and age", async () => {
    const project = randomUUID();
    const other = randomUUID();
    for (const p of [project, other]) {
      await db.project.create({ data: { id: p, name: `candidates-${p}` } });
    }
    let minute = 0;
    const task = async (
      p: string,
      fields: Partial<TaskView> = {},
      row: { stuck?: boolean } = {},
    ): Promise<string> => {
      const id = randomUUID();
      minute += 1;
      const createdAt = new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
      const view = { ...base(id), projectId: p, createdAt, updatedAt: createdAt, ...fields };
      await applyTaskChange(db, { view, version: 1, events: [] });
      if (row.stuck) {
        await db.task.update({ where: { id }, data: { stuckSince: new Date(), stuckReason: 'x' } });
      }
      return id;
    };
    const oldLow = await task(project);
    const high = await task(project, { priority: 5 });
    const newLow = await task(project);
    await task(project, {}, { stuck: true });
    await task(project, { state: 'in_progress', assignedAgentId: agentId });
    const mine = await task(project, { state: 'changes_requested', assignedAgentId: agentId });
    const elsewhere = await task(other);

    const ids = async (projectIds: string[] | null, limit = 20) =>
      (await claimCandidates(db, { agentId, projectIds, limit })).map((c) => c.id);
    expect(await ids([project])).toEqual([mine, high, oldLow, newLow]);
    expect(await ids([project, other])).toEqual([mine, high, oldLow, newLow, elsewhere]);
    expect(await ids([project], 1)).toEqual([mine, high]);
    expect(await ids([])).toEqual([]);
    // Every project: this project's candidates are among them, in the same order.
    const everywhere = await ids(null, 1000);
    expect(everywhere.filter((id) => [mine, high, oldLow, newLow].includes(id))).toEqual([
      mine,
      high,
      oldLow,
      newLow,
    ]);
    const otherAgent = await claimCandidates(db, {
      agentId: randomUUID(),
      projectIds: [project],
      limit: 20,
    });
    expect(otherAgent.map((c) => c.id)).toEqual([high, oldLow, newLow]);
  });
});
