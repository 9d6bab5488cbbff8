import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
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
  cancelTaskUpdate,
  claimTaskUpdate,
  markStagedUpdate,
  projectionSyncedUpdate,
  releaseTaskUpdate,
  requestChangesUpdate,
  submitForReviewUpdate,
  taskHistoryQuery,
  taskViewQuery,
  TRANSITION_REFUSED,
} from '../contracts/messages';
import { agentIdKey, taskStateKey } from '../contracts/search-attributes';
import type { TaskView, TaskWorkflowInput } from '../contracts/task';
import { TaskMachine, TransitionRefused } from './task-machine';
import type { Change } from './task-machine';

// Projection and publishing run as local activities: in the worker, inside the workflow task,
// without a round trip through the Temporal server per step (docs/performance.md). Both are
// idempotent, so the re-run that follows a worker crash is harmless. Projection must eventually
// succeed (MySQL comes back): it retries without limit, quickly.
const { projectTaskChange } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds' },
});
// Publishing is tried once locally; if Redis is down it becomes a regular activity that retries
// until Redis is back (events resume then) without holding up the workflow's next changes.
const { publishTaskEvents: publishOnce } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 1 },
});
const { publishTaskEvents: publishUntilDelivered } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '2 seconds' },
});

/** Update inputs carry the acting agent's id (the validators' typing needs it spelled out). */
type AgentInput = { agentId: string };

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
 * One task, from creation to staging or cancellation (SPEC.md, "Task lifecycle"). Every change
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
  const record = (change: Change): Promise<void> => {
    if (change.length === 0) return projected;
    const view = machine.current();
    const version = change[change.length - 1]!.taskSeq;
    inFlight += 1;
    projected = projected.then(async () => {
      const delivered = await projectTaskChange({ view, version, events: change });
      const events = { projectId, taskId, events: delivered };
      published = published.then(() =>
        publishOnce(events).catch(() => publishUntilDelivered(events)),
      );
      inFlight -= 1;
    });
    return projected;
  };
  const apply = async (change: Change): Promise<TaskView> => {
    upsertSearchAttributes([
      { key: taskStateKey, value: machine.state },
      { key: agentIdKey, value: machine.current().assignedAgentId },
    ]);
    await record(change);
    return machine.current();
  };

  void record(created);

  setHandler(claimTaskUpdate, ({ agentId }) => apply(machine.claim(agentId, new Date())), {
    validator: ({ agentId }: AgentInput) => refuseUnless(() => machine.checkClaim(agentId)),
  });
  setHandler(releaseTaskUpdate, ({ reason }) => apply(machine.release(reason, new Date())), {
    validator: ({ agentId }: AgentInput) => refuseUnless(() => machine.checkRelease(agentId)),
  });
  setHandler(
    askQuestionUpdate,
    async ({ agentId, questionId, question }) => {
      await apply(machine.ask(agentId, questionId, question, new Date()));
      return { questionId };
    },
    { validator: ({ agentId }: AgentInput) => refuseUnless(() => machine.checkAsk(agentId)) },
  );
  setHandler(
    answerQuestionUpdate,
    async ({ answer }) => {
      const questionId = machine.openQuestion!.id;
      await apply(machine.answer(answer, new Date()));
      return { questionId };
    },
    {
      validator: ({ questionId }: { questionId?: string }) =>
        refuseUnless(() => machine.checkAnswer(questionId)),
    },
  );
  setHandler(
    submitForReviewUpdate,
    ({ agentId: _agent, ...details }) => apply(machine.submit(details, new Date())),
    {
      validator: ({ agentId }: AgentInput) => refuseUnless(() => machine.checkSubmit(agentId)),
    },
  );
  setHandler(approveTaskUpdate, () => apply(machine.approve(new Date())), {
    validator: () => refuseUnless(() => machine.checkApprove()),
  });
  setHandler(
    requestChangesUpdate,
    ({ feedback }) => apply(machine.requestChanges(feedback, new Date())),
    {
      validator: (_input) => refuseUnless(() => machine.checkRequestChanges()),
    },
  );
  setHandler(
    cancelTaskUpdate,
    ({ reason }) => apply(machine.cancel(reason ?? 'cancelled', new Date())),
    {
      validator: (_input) => refuseUnless(() => machine.checkCancel()),
    },
  );
  setHandler(markStagedUpdate, () => apply(machine.markStaged(new Date())), {
    validator: () => refuseUnless(() => machine.checkMarkStaged()),
  });
  setHandler(projectionSyncedUpdate, async () => {
    await projected;
    return machine.current();
  });
  // Lease: every sign of life from the assigned agent restarts the clock (see the main loop).
  let lastBeat = 0;
  setHandler(agentHeartbeatSignal, ({ agentId }) => {
    if (agentId === machine.current().assignedAgentId) lastBeat += 1;
  });
  setHandler(taskViewQuery, () => machine.current());
  setHandler(taskHistoryQuery, () => machine.transitions());

  const shouldContinueAsNew = () => workflowInfo().continueAsNewSuggested;
  while (!machine.isFinal) {
    const open = machine.openQuestion;
    if (open) {
      // A durable timer: if nobody answers in time, the board is reminded (and again later).
      const moved = await condition(
        () => machine.openQuestion?.id !== open.id || machine.isFinal || shouldContinueAsNew(),
        input.reminderAfterMs,
      );
      if (!moved) await record(machine.remind(new Date()));
    } else if (machine.state === 'in_progress') {
      // An agent that stays silent for a whole lease loses the task; it goes back to the backlog.
      const beat = lastBeat;
      const agentId = machine.current().assignedAgentId;
      const moved = await condition(
        () => lastBeat !== beat || machine.state !== 'in_progress' || shouldContinueAsNew(),
        input.leaseMs,
      );
      if (
        !moved &&
        machine.state === 'in_progress' &&
        machine.current().assignedAgentId === agentId
      ) {
        await apply(machine.release(`lease of agent ${agentId} expired`, new Date()));
      }
    } else {
      await condition(
        () =>
          machine.isFinal ||
          machine.openQuestion !== undefined ||
          machine.state === 'in_progress' ||
          shouldContinueAsNew(),
      );
    }
    if (shouldContinueAsNew() && !machine.isFinal) {
      await condition(() => allHandlersFinished() && inFlight === 0);
      await published;
      return await continueAsNew<typeof taskWorkflow>({ ...input, snapshot: machine.snapshot() });
    }
  }
  await condition(() => allHandlersFinished() && inFlight === 0);
  await published;
  return machine.current();
}
