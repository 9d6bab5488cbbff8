import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isCodeFailure } from '../../platform/workflow-health';
import { eventTypeName, fetchRuns } from '../replay/corpus';
import { driveToWaitingStates } from '../replay/scenarios';
import type { TaskScenario, WaitingWorld } from '../replay/scenarios';
import { startTestApi } from '../support/api';
import type { TestApi } from '../support/api';
import { startTestWorker, uniqueTaskQueue } from '../support/worker';
import { bundleRelease, previousRelease } from './releases';

/**
 * An upgrade as an operator makes it: a worker of the previous release (its workflow code,
 * rebuilt from test/upgrade/releases) leaves tasks waiting in every state and a merge batch in
 * the middle of its deploy; it stops; a worker of the current code takes over the same Temporal
 * state and every task goes on to its next state, while new tasks work too. No workflow task
 * may fail on the way (a nondeterminism error would fail one on every attempt).
 */

// The scenarios steer previews through gate files on this machine (scenarios.ts, GATE_SCRIPT),
// which a sandboxed preview cannot see: these runs use the operator's unsafe opt-out. The
// sandbox itself is tested in activities/preview/sandbox.test.ts.
process.env.AIWORKER_PREVIEW_SANDBOX = 'none';

describe('upgrade from the previous release', () => {
  jest.setTimeout(300_000);
  const taskQueue = uniqueTaskQueue('upgrade');
  const workdir = mkdtempSync(path.join(tmpdir(), 'aiworker-upgrade-'));
  let previous: { release: string; bundlePath: string };
  let api: TestApi;
  let quick: TestApi;
  let worker: { stop(): Promise<void> } | null = null;

  beforeAll(async () => {
    const release = previousRelease();
    if (!release) throw new Error('test/upgrade/releases has no release to upgrade from');
    const bundlePath = path.join(workdir, `workflows-${release.release}.js`);
    writeFileSync(bundlePath, await bundleRelease(release.dir));
    rmSync(release.dir, { recursive: true, force: true });
    previous = { release: release.release, bundlePath };
    api = await startTestApi({ taskQueue, connectionLimit: 5 });
    quick = await startTestApi({
      taskQueue,
      adminToken: api.adminToken,
      leaseMs: 3000,
      questionReminderMs: 4000,
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await quick?.close();
    await api?.close();
    rmSync(workdir, { recursive: true, force: true });
  });

  it('carries on every task the previous release left waiting, and runs new ones', async () => {
    worker = await startTestWorker({ taskQueue, bundlePath: previous.bundlePath });
    const world = await driveToWaitingStates(
      { apiUrl: api.url, adminToken: api.adminToken, quickApiUrl: quick.url },
      workdir,
    );
    await worker.stop();
    worker = await startTestWorker({ taskQueue });

    const { driver: d, tasks } = world;
    try {
      // The merge held in the middle of its deploy finishes, and the batch queued behind it runs.
      world.releaseHold();
      world.clearFailures();
      expect((await d.untilMerge(world.merges.deploying, ['completed'])).state).toBe('completed');
      expect((await d.untilMerge(world.merges.queued, ['completed'])).state).toBe('completed');
      await d.untilTaskState(tasks.in_merge, 'staging');
      await d.untilTaskState(tasks.merge_queued, 'staging');

      // Questions are answered; an agent asks on a task in progress.
      await d.person(tasks.needs_input, 'respond', { answer: 'Blue.' });
      await d.person(tasks.reminded, 'respond', { answer: 'Yes, here.' });
      expect((await d.task(tasks.needs_input)).state).toBe('in_progress');
      await d.ask(tasks.in_progress, 'May I rename the module?');
      expect((await d.task(tasks.in_progress)).state).toBe('needs_input');

      // Work is delivered (again, for the preview refused before the upgrade).
      await d.deliver(tasks.answered, { 'work/answered.txt': 'done after the upgrade\n' });
      await d.tool('trigger_preview', { taskId: tasks.delivery_failed });
      for (const label of ['answered', 'delivery_failed'] as const) {
        expect((await d.task(tasks[label])).state).toBe('ready_to_test');
      }
      await d.person(tasks.ready_to_test, 'approve');

      // Approved work (one rolled back before the upgrade) merges to staging.
      const merge = await d.merge([tasks.approved, tasks.rolled_back, tasks.ready_to_test]);
      expect((await d.untilMerge(merge, ['completed', 'rolled_back', 'failed'])).state).toBe(
        'completed',
      );

      // The agent takes its tasks sent back for changes first, then the backlog.
      const claimed: string[] = [];
      for (let id = await d.claimNext(); id; id = await d.claimNext()) claimed.push(id);
      const expected: TaskScenario[] = [
        'changes_requested',
        'merge_conflict',
        'backlog',
        'released',
        'lease_expired',
      ];
      const must = expected.map((l) => tasks[l]);
      expect(claimed).toEqual(expect.arrayContaining(must));
      // Tasks with a lease of seconds may have come back to the backlog and been taken again.
      const quickLease = [tasks.reminded, tasks.lease_expired];
      expect(claimed.filter((id) => !must.includes(id) && !quickLease.includes(id))).toEqual([]);

      // A task created after the upgrade goes the whole way.
      const fresh = await d.createTask('after the upgrade');
      await d.claimNext(fresh);
      const questionId = await d.ask(fresh, 'Anything to keep in mind?');
      await d.person(fresh, 'respond', { answer: 'No.', questionId });
      await d.deliver(fresh, { 'work/fresh.txt': 'new work\n' });
      await d.person(fresh, 'approve');
      const last = await d.merge([fresh]);
      expect((await d.untilMerge(last, ['completed', 'rolled_back', 'failed'])).state).toBe(
        'completed',
      );

      const states = Object.fromEntries(
        await Promise.all(
          Object.entries(tasks).map(async ([label, id]) => [label, (await d.task(id)).state]),
        ),
      );
      expect(states).toEqual({
        backlog: 'in_progress',
        released: 'in_progress',
        lease_expired: expect.stringMatching(/^(in_progress|backlog)$/),
        in_progress: 'needs_input',
        needs_input: 'in_progress',
        reminded: expect.stringMatching(/^(in_progress|backlog)$/),
        answered: 'ready_to_test',
        delivery_failed: 'ready_to_test',
        ready_to_test: 'staging',
        changes_requested: 'in_progress',
        approved: 'staging',
        merge_conflict: 'in_progress',
        rolled_back: 'staging',
        in_merge: 'staging',
        merge_queued: 'staging',
        staged: 'staging',
        cancelled: 'cancelled',
      });
      expect(await failedWorkflowTasks(world, [fresh])).toEqual([]);
    } finally {
      await world.close();
    }
  });

  /** Every workflow task that failed in any workflow of the scenario, as `<workflow id>: event`. */
  async function failedWorkflowTasks(world: WaitingWorld, extraTasks: string[]): Promise<string[]> {
    const ids = [
      ...[...Object.values(world.tasks), ...extraTasks].map((id) => `task-${id}`),
      ...Object.values(world.merges).map((id) => `merge-${id}`),
      `merge-queue-${world.projectId}`,
    ];
    const failed: string[] = [];
    for (const id of ids) {
      for (const { history } of await fetchRuns(api.deps.temporal.client, id)) {
        for (const event of history.events ?? []) {
          const attrs = event.workflowTaskFailedEventAttributes;
          // Nondeterminism or an error of the code; not Temporal's ordinary retries.
          if (attrs && isCodeFailure(attrs.cause)) {
            const why = attrs.failure?.message ?? '';
            failed.push(`${id}: #${String(event.eventId)} ${eventTypeName(event)} ${why}`);
          }
        }
      }
    }
    return failed;
  }
});
