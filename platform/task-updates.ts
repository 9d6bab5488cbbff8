import { setTimeout as sleep } from 'node:timers/promises';
import {
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
} from '@temporalio/client';
import type { Client, WorkflowHandle, WorkflowUpdateHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { QueryDefinition, UpdateDefinition } from '@temporalio/common';
import { TASK_RESTARTING, taskViewQuery } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import type { TaskView } from '../contracts/task';
import { TaskWorkflowStuck, TaskWorkflowUnresponsive } from './errors';
import { workflowTaskFailure } from './workflow-health';

/**
 * How long a task workflow has to take an update before its caller gets an answer: within the
 * 10 s every write is answered in. A call made while no worker runs is answered `unavailable`
 * (retryable); a second worker, or the restarted one, takes the retry.
 */
export const TASK_UPDATE_DEADLINE_MS = 7_000;
/**
 * An update still unanswered after this long makes us look at the workflow, and again every
 * `STUCK_PROBE_EVERY_MS`: one whose workflow task fails on every attempt (code that cannot replay
 * its history) ends the wait at once with `TaskWorkflowStuck`, instead of at the deadline.
 */
const STUCK_PROBE_AFTER_MS = 1_500;
const STUCK_PROBE_EVERY_MS = 2_500;
/** The describe call that tells a stuck workflow from a slow one. */
const DESCRIBE_DEADLINE_MS = 2_000;

/**
 * How often an update is sent again while its task workflow continues as new (milliseconds,
 * unless the worker is busy): within the deadline above.
 */
const RESTART_ATTEMPTS = 40;

/**
 * Sends an update to a task workflow and waits for its result, within `TASK_UPDATE_DEADLINE_MS`.
 * An update that arrives while the run is continuing as new is refused with nothing changed
 * (`TASK_RESTARTING`); it is sent again here, and reaches the new run, so callers never see that
 * moment. A workflow that cannot take it throws `TaskWorkflowStuck`; one that does not answer in
 * time throws `TaskWorkflowUnresponsive`.
 */
export async function executeTaskUpdate<Ret, Args extends unknown[]>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, Args>,
  ...args: Args
): Promise<Ret> {
  const deadline = Date.now() + TASK_UPDATE_DEADLINE_MS;
  // The SDK's overloads cannot see through a generic argument list; the signature above keeps
  // callers as strictly typed as a direct call.
  const definition = update as unknown as UpdateDefinition<Ret, [unknown]>;
  return await withRestarts(handle, deadline, () =>
    handle.executeUpdate(definition, { args: args as unknown as [unknown] }),
  );
}

/**
 * `executeTaskUpdate` for updates whose handler runs long steps (a delivery deploys a preview):
 * the workflow must *accept* the update within the deadline; its result may then take as long
 * as its steps do.
 */
export async function executeLongTaskUpdate<Ret, Args extends unknown[]>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, Args>,
  ...args: Args
): Promise<Ret> {
  const accepted = await startLongTaskUpdate(handle, update, undefined, ...args);
  return await accepted.result();
}

/**
 * The first half of `executeLongTaskUpdate`: the update, accepted by the workflow within the
 * deadline; its result is for the caller to wait for (`updateId` lets a later call find it).
 */
export async function startLongTaskUpdate<Ret, Args extends unknown[]>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, Args>,
  updateId: string | undefined,
  ...args: Args
): Promise<WorkflowUpdateHandle<Ret>> {
  const deadline = Date.now() + TASK_UPDATE_DEADLINE_MS;
  const definition = update as unknown as UpdateDefinition<Ret, [unknown]>;
  return await withRestarts(handle, deadline, () =>
    handle.startUpdate(definition, {
      args: args as unknown as [unknown],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
      ...(updateId ? { updateId } : {}),
    }),
  );
}

/**
 * A query of a task workflow, answered within the update deadline. Temporal holds a query to a
 * workflow whose workflow task keeps failing until the caller gives up: such a workflow is told
 * apart as for an update (`TaskWorkflowStuck` within seconds), one that just does not answer is
 * `TaskWorkflowUnresponsive`.
 */
export async function queryTaskWorkflow<Ret>(
  handle: WorkflowHandle,
  query: QueryDefinition<Ret, []>,
): Promise<Ret> {
  const deadline = Date.now() + TASK_UPDATE_DEADLINE_MS;
  try {
    return await watched(handle, deadline, () => handle.query(query));
  } catch (err) {
    throw (await whyUnanswered(handle, err)) ?? err;
  }
}

async function withRestarts<T>(
  handle: WorkflowHandle,
  deadline: number,
  send: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await watched(handle, deadline, send);
    } catch (err) {
      if (isRestarting(err) && attempt < RESTART_ATTEMPTS && Date.now() < deadline) {
        await sleep(Math.min(25 * attempt, 1000, Math.max(0, deadline - Date.now())));
        continue;
      }
      throw (await whyUnanswered(handle, err)) ?? err;
    }
  }
}

/**
 * How long this process's task updates and queries have lately taken to be answered: an average
 * that follows the last few dozen answers. When Temporal or the workers are behind, every call
 * is slow, and probing each for a stuck workflow would add a describe call per call to a server
 * already behind (one per claim with a hundred agents on two cores): the first probe then waits
 * for a few times this long. A call that reaches its deadline is still looked at (`whyUnanswered`).
 */
const answerTimes = {
  averageMs: 0,
  note(ms: number): void {
    this.averageMs = this.averageMs === 0 ? ms : this.averageMs + (ms - this.averageMs) / 16;
  },
  /**
   * A probe found the workflow of a call unanswered for `ms` able to run: the call is waiting its
   * turn, and so are the others sent with it. The average is raised to that wait at once, so a
   * burst of calls (a hundred agents starting together) is not probed call by call.
   */
  waited(ms: number): void {
    this.averageMs = Math.max(this.averageMs, ms);
  },
  /** When a call still unanswered is first probed. */
  probeAfterMs(): number {
    return Math.max(STUCK_PROBE_AFTER_MS, 3 * this.averageMs);
  },
  /** The probe under way in this process: one at a time, and the others look again after it. */
  probing: undefined as Promise<unknown> | undefined,
  /** Marks `looking` as the probe under way until it settles. */
  track(looking: Promise<unknown>): void {
    const settled = looking.catch(() => undefined);
    this.probing = settled;
    void settled.finally(() => {
      if (this.probing === settled) this.probing = undefined;
    });
  },
};

/**
 * Sends within the deadline; if no answer came after `STUCK_PROBE_AFTER_MS` (longer while every
 * answer is slow: `answerTimes`), asks whether the workflow's task is failing, and if so gives
 * up on the call at once.
 */
async function watched<T>(
  handle: WorkflowHandle,
  deadline: number,
  send: () => Promise<T>,
): Promise<T> {
  const { connection } = handle.client;
  const controller = new AbortController();
  const { signal } = controller;
  const never = new Promise<never>(() => undefined);
  const sent = Date.now();
  const call = connection
    .withAbortSignal(signal, () => connection.withDeadline(deadline, send))
    .then((answer) => {
      answerTimes.note(Date.now() - sent);
      return answer;
    });
  const probe = (async (): Promise<never> => {
    let due = sent + answerTimes.probeAfterMs();
    for (;;) {
      if (due >= deadline) return never;
      await sleep(due - Date.now(), undefined, { signal });
      // Another call's probe first: if its workflow was able to run, every call is slow, and
      // this one's probe moves later with the average.
      while (answerTimes.probing) await answerTimes.probing;
      signal.throwIfAborted();
      const later = sent + answerTimes.probeAfterMs();
      if (later > Date.now()) {
        due = Math.max(due, later);
        continue;
      }
      // In the call's scope: once the call is settled, a probe still in flight is cancelled.
      const looking = connection.withAbortSignal(signal, () => isFailing(handle));
      answerTimes.track(looking);
      if (await looking) throw new TaskWorkflowStuck(taskIdOf(handle));
      signal.throwIfAborted();
      answerTimes.waited(Date.now() - sent);
      due = Date.now() + STUCK_PROBE_EVERY_MS;
    }
  })().catch((err: unknown) => {
    if (err instanceof TaskWorkflowStuck) throw err;
    return never; // aborted: the call has settled
  });
  try {
    return await Promise.race([call, probe]);
  } finally {
    controller.abort();
  }
}

/**
 * Whether the workflow's code cannot run it: its workflow task is past its first attempt and
 * failed with nondeterminism or an error of the code (a failure that will recur), not a
 * passing one such as a task that met a new message while continuing as new.
 */
async function isFailing(
  handle: WorkflowHandle,
  withinMs = DESCRIBE_DEADLINE_MS,
): Promise<boolean> {
  try {
    const failure = await handle.client.connection.withDeadline(Date.now() + withinMs, () =>
      workflowTaskFailure(handle.client, handle.workflowId),
    );
    return failure?.codeFailure ?? false;
  } catch {
    // Temporal itself does not answer: the workflow cannot say either way.
    return false;
  }
}

/**
 * Whether the workflow of a task whose update went unanswered is stuck now: its workflow task
 * failed with an error of the code and is being tried again. Asked within `withinMs`, and only
 * when no other probe of this process is under way (false then, as when Temporal does not say):
 * when Temporal is behind, many calls go unanswered at once, and a describe call for each would
 * add to its load.
 */
export async function isTaskWorkflowStuck(
  client: Client,
  taskId: string,
  withinMs: number,
): Promise<boolean> {
  if (answerTimes.probing) return false;
  const looking = isFailing(client.workflow.getHandle(taskWorkflowId(taskId)), withinMs);
  answerTimes.track(looking);
  return await looking;
}

function taskIdOf(handle: WorkflowHandle): string {
  return handle.workflowId.replace(/^task-/, '');
}

function isRestarting(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === TASK_RESTARTING
  );
}

/** FAILED_PRECONDITION: Temporal refuses updates while the workflow's task keeps failing. */
function refusedAsFailing(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown; details?: unknown; message?: unknown } })
    ?.cause;
  return (
    cause?.code === 9 &&
    /workflow task in failed state/i.test(`${String(cause.details)} ${String(cause.message)}`)
  );
}

/**
 * Why a task workflow took no update: `TaskWorkflowStuck` when its workflow task is failing
 * (Temporal says so, or its pending workflow task is past its first attempt),
 * `TaskWorkflowUnresponsive` when it just did not answer in time; undefined for anything else.
 */
async function whyUnanswered(handle: WorkflowHandle, err: unknown): Promise<Error | undefined> {
  if (err instanceof TaskWorkflowStuck) return err;
  const taskId = taskIdOf(handle);
  if (refusedAsFailing(err)) return new TaskWorkflowStuck(taskId);
  if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) && !isDeadline(err)) {
    return undefined;
  }
  if (await isFailing(handle)) return new TaskWorkflowStuck(taskId);
  return new TaskWorkflowUnresponsive(taskId, TASK_UPDATE_DEADLINE_MS);
}

function isDeadline(err: unknown): boolean {
  const code = (e: unknown) => (e as { code?: unknown } | null)?.code;
  return code(err) === 4 || code((err as { cause?: unknown } | null)?.cause) === 4;
}

/**
 * The task workflow's own view, asked within `timeoutMs` (a query needs a worker); null when it
 * does not answer in time.
 */
export async function queryTaskView(
  client: Client,
  taskId: string,
  timeoutMs = 1500,
): Promise<TaskView | null> {
  return await client.connection
    .withDeadline(Date.now() + timeoutMs, () =>
      client.workflow.getHandle(taskWorkflowId(taskId)).query(taskViewQuery),
    )
    .catch(() => null);
}
