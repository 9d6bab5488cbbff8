import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  agentHeartbeatSignal,
  answerQuestionUpdate,
  approveTaskUpdate,
  askQuestionUpdate,
  beginMergeUpdate,
  cancelTaskUpdate,
  claimTaskUpdate,
  continueAsNewSignal,
  createBranchUpdate,
  createPullRequestUpdate,
  DELIVERY_FAILED,
  DELIVERY_UNAVAILABLE,
  endMergeUpdate,
  markStagedUpdate,
  mergeConflictUpdate,
  projectionSyncedUpdate,
  releaseTaskUpdate,
  reportProgressUpdate,
  requestChangesUpdate,
  submitForReviewUpdate,
  taskHistoryQuery,
  triggerPreviewUpdate,
  taskViewQuery,
  TASK_RESTARTING,
  TRANSITION_REFUSED,
} from '../contracts/messages';
import { agentIdKey, taskStateKey } from '../contracts/search-attributes';
import { agentActor, SYSTEM_ACTOR, UNKNOWN_ACTOR } from '../contracts/actor';
import type { Actor } from '../contracts/actor';
import type { DeliveryStep } from '../contracts/events';
import type { BusyWithStep } from '../contracts/messages';
import type { TaskClock, TaskView, TaskWorkflowInput } from '../contracts/task';
import { TaskMachine, TransitionRefused } from './task-machine';
import type { Change } from './task-machine';

// Projection runs as a regular activity, scheduled only once the change is committed to this
// workflow's history. (A local activity runs inside the workflow task, before that task is
// committed: when such a task fails, e.g. a continue-as-new that meets a new signal, the read
// model would show a change the workflow never recorded.) It is idempotent and must eventually
// succeed, so it retries without limit; a short timeout lets a new worker take over quickly.
// The activity also publishes the events; when Redis is down, publishing becomes a retrying
// activity of its own that does not hold up the next changes.
const { projectTaskChange, publishTaskEvents } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '2 seconds' },
});

// Release 0.7.0 projected a new task's creation with a local activity, inside the first workflow
// task. A local activity that outlasts its workflow task (a slow database) holds the workflow
// open across the task's extensions, and whatever arrives meanwhile (a claim, then the claiming
// agent's heartbeat) is ordered around the activity's result differently on replay than it was
// live: that history no longer replays (test/slow-projection.test.ts). Runs started since then
// project their creation like every other change, with the regular activity; the local one stays
// for the histories 0.7.0 recorded.
const { projectTaskChange: projectCreationLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '2 seconds' },
});
/** The patch (`patched()`) under which 0.7.0 projected a new task's creation locally. */
const CREATION_PROJECTED_LOCALLY = 'creation-projected-locally';
/** The patch under which a new task's creation is projected by the regular activity again. */
const CREATION_PROJECTED_BY_ACTIVITY = 'creation-projected-by-activity';
/**
 * The patch under which Temporal's continue-as-new suggestion is read only where the workflow
 * reacts to something its history records (see `noteSuggestion` below).
 */
const SUGGESTION_READ_ON_RECORDED_WORK = 'suggestion-read-on-recorded-work';
/**
 * The patch under which a delivery step that met an outage on every attempt fails its update as
 * `DELIVERY_UNAVAILABLE` (the agent may try again), not as a refusal.
 */
const DELIVERY_OUTAGE_NOT_REFUSAL = 'delivery-outage-not-refusal';
/**
 * The patch under which an agent's signs of life change no command: the lease timer runs its
 * whole period and, when it fires, starts again from the latest sign of life, instead of being
 * cancelled and started anew at each heartbeat. A heartbeat's workflow task then writes nothing,
 * so the order in which a heartbeat and an activity's result wake the workflow within one
 * workflow task cannot change which commands it writes (see "Changing workflow code" in
 * docs/architecture.md).
 */
const LEASE_CHECKED_AT_DEADLINE = 'lease-checked-at-deadline';
/**
 * Signals a run takes before it continues as new even without Temporal's suggestion: heartbeats
 * wake nothing that reads the suggestion (to a task waiting for an answer, and since the patch
 * above to any task), yet grow the history (about four events each).
 */
const SIGNALS_PER_RUN = 1_000;

// Delivery steps talk to the forge: quick calls, retried a few times for outages. A refusal
// (ForgeRefusal) is non-retryable and reaches the agent and the board in the forge's words.
// They heartbeat, so a worker that dies mid-step is noticed in 20 seconds, not 2 minutes.
const { ensureTaskBranch, openTaskPullRequest } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});
// A preview installs and starts an app (or waits for a rollout): long, with a heartbeat so a
// dead worker is noticed within 20 seconds.
const { deployTaskPreview } = proxyActivities<Activities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 3 },
});

/** Update inputs carry the acting agent's id (the validators' typing needs it spelled out). */
type AgentInput = { agentId: string };

/** Who asked for a change; histories recorded before release 0.5.0 name no actor. */
function by(input: { actor?: Actor } | undefined, agentId?: string): Actor {
  return input?.actor ?? (agentId ? agentActor(agentId) : UNKNOWN_ACTOR);
}

/** Runs `check` and turns a refusal into the failure an update validator reports. */
function refuseUnless(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof TransitionRefused)
      throw ApplicationFailure.nonRetryable(err.message, TRANSITION_REFUSED);
    throw err;
  }
}

/**
 * One task, from creation to staging or cancellation (docs/architecture.md, "The task workflow"). Every change
 * arrives as an update whose validator refuses what the state does not allow; accepted changes
 * are recorded in this workflow's history, projected into MySQL in order, then published.
 */
export async function taskWorkflow(input: TaskWorkflowInput): Promise<TaskView> {
  const { machine, change: created } = TaskMachine.create(input, new Date());
  const { id: taskId, projectId } = machine.current();

  // Projections run one after another, in the order the changes happened; publishing follows
  // each projection, in order too, without holding up the next change.
  let projected: Promise<void> = Promise.resolve();
  let published: Promise<void> = Promise.resolve();
  let inFlight = 0;
  let deferred = 0;

  // Temporal suggests continuing as new once the history grows long, in every workflow task it
  // hands out, including one that only delivers an update the validator refuses: that task leaves
  // no event, and replay never wakes the workflow for it. Read in a wait's condition (as runs
  // before this patch do), the suggestion could start a continue-as-new live in such a task, and
  // replay found the history's commands where it had none. Since the patch, it is read only where
  // the workflow reacts to something its history records and writes commands in the same task:
  // an update it accepted, and the main loop waking up. (A run continued as new asks the patch
  // too: the flag is its own.)
  let suggestionReadOnRecordedWork = false;
  let restartSuggested = false;
  const noteSuggestion = (): void => {
    if (suggestionReadOnRecordedWork && workflowInfo().continueAsNewSuggested) {
      restartSuggested = true;
    }
  };
  const record = (
    made: Change,
    actor: Actor,
    project: typeof projectTaskChange = projectTaskChange,
  ): Promise<void> => {
    if (made.length === 0) return projected;
    // Adding the actor changes only activity inputs, which replay does not compare.
    const change = made.map((e) => ({ ...e, actor }));
    const view = machine.current();
    const version = change[change.length - 1]!.taskSeq;
    inFlight += 1;
    projected = projected.then(async () => {
      // While an earlier publish waits for Redis, later ones queue behind it to keep the order.
      const { events: delivered, published: sent } = await project({
        view,
        version,
        events: change,
        publish: deferred === 0,
      });
      if (!sent) {
        const events = { projectId, taskId, events: delivered };
        deferred += 1;
        published = published.then(async () => {
          await publishTaskEvents(events);
          deferred -= 1;
        });
      }
      inFlight -= 1;
    });
    return projected;
  };
  /**
   * Resolves once no handler runs and every change is projected and published. An update may be
   * accepted while we wait for the last publish, so the check is made again, with no await
   * between the final check and the caller's continue-as-new or return: a change accepted in a
   * closing run is never left unprojected.
   */
  const settle = async (): Promise<void> => {
    for (;;) {
      await condition(() => allHandlersFinished() && inFlight === 0);
      const last = published;
      await last;
      if (allHandlersFinished() && inFlight === 0 && published === last) return;
    }
  };
  const apply = async (change: Change, actor: Actor): Promise<TaskView> => {
    noteSuggestion();
    upsertSearchAttributes([
      { key: taskStateKey, value: machine.state },
      { key: agentIdKey, value: machine.current().assignedAgentId },
    ]);
    await record(change, actor);
    return machine.current();
  };

  // A run continued as new has no creation to project and asks no patch (as before 0.7.0).
  // Otherwise: since 0.7.1 the regular activity (the first patch); in 0.7.0 the local activity
  // (the second); before 0.7.0, with neither marker in the history, the regular activity.
  const creationProjector =
    input.snapshot === undefined &&
    !patched(CREATION_PROJECTED_BY_ACTIVITY) &&
    patched(CREATION_PROJECTED_LOCALLY)
      ? projectCreationLocally
      : projectTaskChange;
  void record(created, input.actor ?? UNKNOWN_ACTOR, creationProjector);
  suggestionReadOnRecordedWork = patched(SUGGESTION_READ_ON_RECORDED_WORK);
  const leaseCheckedAtDeadline = patched(LEASE_CHECKED_AT_DEADLINE);

  // Set, with no await in between, just before this run continues as new or ends. An update that
  // is validated after that point must change nothing here (its effect would be lost with this
  // run, while its projection could already have run): it is refused, and the caller sends it
  // again to the new run.
  let closing = false;
  const guard = (check: () => void): void => {
    if (closing) {
      throw ApplicationFailure.nonRetryable(
        'the task workflow is continuing as new; send the update again',
        TASK_RESTARTING,
      );
    }
    refuseUnless(check);
  };

  // Lease: every sign of life from the assigned agent moves its end on (see the main loop).
  let lastBeat = 0;
  /** When the latest sign of life arrived (workflow time). */
  let lastBeatAt = new Date().toISOString();
  const beat = (): void => {
    lastBeat += 1;
    lastBeatAt = new Date().toISOString();
  };
  /** Signals this run has taken (see SIGNALS_PER_RUN). */
  let signals = 0;

  setHandler(
    claimTaskUpdate,
    (input) => apply(machine.claim(input.agentId, new Date()), by(input, input.agentId)),
    {
      validator: ({ agentId, expiresAt }: AgentInput & { expiresAt?: string }) =>
        guard(() => {
          if (expiresAt !== undefined && Date.now() > Date.parse(expiresAt)) {
            throw new TransitionRefused(
              `the claim of task ${taskId} by agent ${agentId} arrived after its caller stopped waiting (${expiresAt})`,
            );
          }
          machine.checkClaim(agentId);
        }),
    },
  );
  setHandler(
    releaseTaskUpdate,
    (input) => apply(machine.release(input.reason, new Date()), by(input, input.agentId)),
    { validator: ({ agentId }: AgentInput) => guard(() => machine.checkRelease(agentId)) },
  );
  setHandler(
    askQuestionUpdate,
    async (input) => {
      const { agentId, questionId, question } = input;
      await apply(machine.ask(agentId, questionId, question, new Date()), by(input, agentId));
      return { questionId };
    },
    { validator: ({ agentId }: AgentInput) => guard(() => machine.checkAsk(agentId)) },
  );
  setHandler(
    answerQuestionUpdate,
    async (input) => {
      const questionId = machine.openQuestion!.id;
      await apply(machine.answer(input.answer, new Date()), by(input));
      return { questionId };
    },
    {
      validator: ({ questionId }: { questionId?: string }) =>
        guard(() => machine.checkAnswer(questionId)),
    },
  );
  setHandler(
    reportProgressUpdate,
    async (input) => {
      noteSuggestion();
      beat();
      await record(
        machine.progress(input.agentId, input.message, new Date()),
        by(input, input.agentId),
      );
    },
    { validator: ({ agentId }: AgentInput) => guard(() => machine.checkProgress(agentId)) },
  );
  // One delivery step at a time: a second call while one runs is refused, not run twice. The
  // refusal names the running step in its details too, so that a caller can wait for that step
  // (mcp/work.ts) without reading the message. (A validator's refusal is not recorded in the
  // history: what it carries can change between releases.)
  let delivering: DeliveryStep | null = null;
  const checkDeliver = (agentId: string, step: DeliveryStep) =>
    guard(() => {
      machine.checkDeliver(agentId, step);
      if (delivering) {
        const busy: BusyWithStep = { busyWith: delivering };
        throw ApplicationFailure.create({
          message: `task ${taskId} is busy with ${delivering}; wait for it to finish before ${step}`,
          type: TRANSITION_REFUSED,
          nonRetryable: true,
          details: [busy],
        });
      }
    });
  /** Runs a delivery step's activities; a failure is shown on the board and fails only the update. */
  const deliver = async <T>(
    step: DeliveryStep,
    actor: Actor,
    run: () => Promise<T>,
  ): Promise<T> => {
    noteSuggestion();
    delivering = step;
    beat();
    try {
      return await run();
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const message =
        cause instanceof ApplicationFailure || cause instanceof Error
          ? cause.message
          : String(cause);
      const outage =
        cause instanceof ApplicationFailure &&
        cause.type === DELIVERY_UNAVAILABLE &&
        patched(DELIVERY_OUTAGE_NOT_REFUSAL);
      await record(machine.deliveryFailed(step, message, new Date()), actor);
      throw ApplicationFailure.nonRetryable(
        `${step} failed: ${message}`,
        outage ? DELIVERY_UNAVAILABLE : DELIVERY_FAILED,
      );
    } finally {
      delivering = null;
      beat();
    }
  };
  setHandler(
    createBranchUpdate,
    (input) =>
      deliver('create_branch', by(input, input.agentId), async () => {
        const result = await ensureTaskBranch({ projectId, taskId });
        await apply(machine.recordBranch(result.branch, new Date()), by(input, input.agentId));
        return result;
      }),
    { validator: ({ agentId }: AgentInput) => checkDeliver(agentId, 'create_branch') },
  );
  setHandler(
    createPullRequestUpdate,
    (input) =>
      deliver('create_pr', by(input, input.agentId), async () => {
        const { title, description } = input;
        const pr = await openTaskPullRequest({ task: machine.current(), title, description });
        await apply(machine.recordPullRequest(pr, new Date()), by(input, input.agentId));
        return pr;
      }),
    { validator: ({ agentId }: AgentInput) => checkDeliver(agentId, 'create_pr') },
  );
  setHandler(
    triggerPreviewUpdate,
    (input) =>
      deliver('trigger_preview', by(input, input.agentId), async () => {
        const { agentId } = input;
        const preview = await deployTaskPreview({
          projectId,
          taskId,
          branch: machine.current().branch!,
        });
        // A person may have cancelled the task, or its lease may have moved on, meanwhile.
        refuseUnless(() => machine.checkSubmit(agentId));
        await apply(
          machine.submit({ previewUrl: preview.url, previewCommit: preview.commit }, new Date()),
          by(input, agentId),
        );
        return { previewUrl: preview.url, commit: preview.commit };
      }),
    { validator: ({ agentId }: AgentInput) => checkDeliver(agentId, 'trigger_preview') },
  );
  setHandler(
    submitForReviewUpdate,
    ({ agentId, actor, ...details }) =>
      apply(machine.submit(details, new Date()), by({ actor }, agentId)),
    {
      validator: ({ agentId }: AgentInput) => guard(() => machine.checkSubmit(agentId)),
    },
  );
  setHandler(approveTaskUpdate, (input) => apply(machine.approve(new Date()), by(input)), {
    validator: (_input?: { actor?: Actor }) => guard(() => machine.checkApprove()),
  });
  setHandler(
    requestChangesUpdate,
    (input) => apply(machine.requestChanges(input.feedback, new Date()), by(input)),
    {
      validator: (_input) => guard(() => machine.checkRequestChanges()),
    },
  );
  setHandler(
    cancelTaskUpdate,
    (input) => apply(machine.cancel(input.reason ?? 'cancelled', new Date()), by(input)),
    {
      validator: (_input) => guard(() => machine.checkCancel()),
    },
  );
  setHandler(
    beginMergeUpdate,
    (input) => apply(machine.beginMerge(input.mergeId, new Date()), by(input)),
    {
      validator: ({ mergeId }: { mergeId: string }) =>
        guard(() => machine.checkBeginMerge(mergeId)),
    },
  );
  setHandler(
    mergeConflictUpdate,
    (input) => apply(machine.mergeConflict(input.mergeId, input.files, new Date()), by(input)),
    {
      validator: ({ mergeId }: { mergeId: string }) =>
        guard(() => machine.checkMergeOutcome(mergeId)),
    },
  );
  setHandler(
    endMergeUpdate,
    (input) => apply(machine.endMerge(input.mergeId, input.reason, new Date()), by(input)),
    {
      validator: ({ mergeId }: { mergeId: string }) =>
        guard(() => machine.checkMergeOutcome(mergeId)),
    },
  );
  setHandler(markStagedUpdate, (input) => apply(machine.markStaged(new Date()), by(input)), {
    validator: ({ mergeId }: { mergeId: string }) =>
      guard(() => machine.checkMergeOutcome(mergeId)),
  });
  setHandler(
    projectionSyncedUpdate,
    async () => {
      noteSuggestion();
      await projected;
      return machine.current();
    },
    { validator: () => guard(() => undefined) },
  );
  setHandler(agentHeartbeatSignal, ({ agentId }) => {
    signals += 1;
    if (agentId === machine.current().assignedAgentId) beat();
  });
  setHandler(taskViewQuery, () => machine.current());
  setHandler(taskHistoryQuery, () => machine.transitions());
  // An operator moves waiting tasks onto the current release's code (npm run workflows:refresh).
  let refreshRequested = false;
  setHandler(continueAsNewSignal, () => {
    signals += 1;
    refreshRequested = true;
  });

  // The clock of the wait this run was continued in, if any: its first wait of the same kind
  // keeps the deadline. (A run without one, as every run before snapshot format 2, waits full
  // periods, exactly as before.)
  let carried = input.snapshot?.clock ?? null;
  /** Starts a wait's clock: the carried one when it is the same wait, else now. */
  const startClock = (clock: TaskClock): { clock: TaskClock; timeoutMs: number } => {
    const full = clock.kind === 'lease' ? input.leaseMs : input.reminderAfterMs;
    const previous = carried;
    carried = null;
    const same =
      previous?.kind === clock.kind &&
      (previous.kind === 'lease' ||
        (clock.kind === 'reminder' && previous.questionId === clock.questionId));
    if (!previous || !same) return { clock, timeoutMs: full };
    const left = full - (Date.now() - Date.parse(previous.since));
    return { clock: previous, timeoutMs: Math.max(1, left) };
  };
  /**
   * The clock of the wait that continue-as-new interrupted, for the next run; asked right before
   * continuing, since an update may still have moved the task while the run settled.
   */
  let interrupted: () => TaskClock | null = () => null;

  const shouldContinueAsNew = () =>
    suggestionReadOnRecordedWork
      ? restartSuggested || refreshRequested || signals >= SIGNALS_PER_RUN
      : workflowInfo().continueAsNewSuggested || refreshRequested;
  while (!machine.isFinal) {
    const open = machine.openQuestion;
    interrupted = () => null;
    if (open) {
      // A durable timer: if nobody answers in time, the board is reminded (and again later).
      const since = new Date().toISOString();
      const wait = startClock({ kind: 'reminder', questionId: open.id, since });
      const moved = await condition(
        () => machine.openQuestion?.id !== open.id || machine.isFinal || shouldContinueAsNew(),
        wait.timeoutMs,
      );
      noteSuggestion();
      if (!moved) await record(machine.remind(new Date()), SYSTEM_ACTOR);
      else interrupted = () => (machine.openQuestion?.id === open.id ? wait.clock : null);
    } else if (machine.state === 'in_progress' && leaseCheckedAtDeadline) {
      // An agent that stays silent for a whole lease loses the task; it goes back to the backlog.
      // Signs of life only note the time: when the period ends, a sign of life since (or a
      // delivery step still running) starts the next period from it.
      const beatBefore = lastBeat;
      const agentId = machine.current().assignedAgentId;
      const wait = startClock({ kind: 'lease', since: new Date().toISOString() });
      const moved = await condition(
        () =>
          machine.state !== 'in_progress' ||
          machine.current().assignedAgentId !== agentId ||
          shouldContinueAsNew(),
        wait.timeoutMs,
      );
      noteSuggestion();
      const held = () =>
        machine.state === 'in_progress' && machine.current().assignedAgentId === agentId;
      if (moved) {
        const clock: TaskClock =
          lastBeat === beatBefore ? wait.clock : { kind: 'lease', since: lastBeatAt };
        interrupted = () => (held() ? clock : null);
      } else if (held() && (lastBeat !== beatBefore || delivering !== null)) {
        // The next period, in this run or the next one.
        const since = delivering !== null ? new Date().toISOString() : lastBeatAt;
        const clock: TaskClock = { kind: 'lease', since };
        carried = clock;
        interrupted = () => (held() ? clock : null);
      } else if (held()) {
        await apply(machine.release(`lease of agent ${agentId} expired`, new Date()), SYSTEM_ACTOR);
      }
    } else if (machine.state === 'in_progress') {
      // Runs started before the patch above: every sign of life cancels the lease timer and
      // starts a new one.
      const beatBefore = lastBeat;
      const agentId = machine.current().assignedAgentId;
      const wait = startClock({ kind: 'lease', since: new Date().toISOString() });
      const moved = await condition(
        () => lastBeat !== beatBefore || machine.state !== 'in_progress' || shouldContinueAsNew(),
        wait.timeoutMs,
      );
      noteSuggestion();
      if (
        !moved &&
        delivering === null &&
        machine.state === 'in_progress' &&
        machine.current().assignedAgentId === agentId
      ) {
        await apply(machine.release(`lease of agent ${agentId} expired`, new Date()), SYSTEM_ACTOR);
      } else if (moved) {
        interrupted = () =>
          lastBeat === beatBefore &&
          machine.state === 'in_progress' &&
          machine.current().assignedAgentId === agentId
            ? wait.clock
            : null;
      }
    } else {
      await condition(
        () =>
          machine.isFinal ||
          machine.openQuestion !== undefined ||
          machine.state === 'in_progress' ||
          shouldContinueAsNew(),
      );
      noteSuggestion();
    }
    if (shouldContinueAsNew() && !machine.isFinal) {
      await settle();
      closing = true;
      const clock = interrupted();
      const snapshot = { ...machine.snapshot(), ...(clock ? { clock } : {}) };
      return await continueAsNew<typeof taskWorkflow>({ ...input, snapshot });
    }
  }
  await settle();
  closing = true;
  return machine.current();
}
