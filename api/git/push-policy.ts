/**
 * Which ref updates an agent's push may make: only its own task's branch
 * (`refs/heads/task-<id>-feature`), of a task of this project that is assigned to it now and that
 * it is working on, created or moved (a force push included) but never deleted. Everything else
 * (staging, other tasks' branches, tags, any other ref) is refused, and one refusal refuses the
 * whole push, so a push is applied entirely or not at all.
 *
 * The read model may trail the task's workflow by the moment its projection takes: an agent whose
 * lease has just ended, or whose task was just cancelled, would still be listed as working on it.
 * So a push the read model allows is also asked of the workflow, which has the last word, when
 * the push begins. A workflow that does not answer in time (no worker, Temporal away) cannot
 * confirm it: the push is refused, and git tells the agent to push again shortly.
 */
import type { TaskView } from '../../contracts/task';
import type { TaskState } from '../../contracts/task-state';
import type { Db } from '../../db/client';
import { findTask } from '../../db/tasks';
import type { TaskRecord } from '../../db/tasks';
import { isDelete } from './receive-commands';
import type { RefUpdate } from './receive-commands';

/** One update and, when it is refused, why (in words git shows the agent). */
export interface Verdict {
  update: RefUpdate;
  refusal: string | null;
}

/** The states in which a task's agent works on it, and so may push to its branch. */
const WORKING_STATES: readonly TaskState[] = ['in_progress', 'needs_input'];

const TASK_BRANCH = /^refs\/heads\/task-(.+)-feature$/;
// Task ids are lower-case UUIDs, and branch names are case-sensitive: `task-ABC…` is not a task's.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The task workflow's own view of a task, or null when it does not answer in time. */
export type AskWorkflow = (taskId: string) => Promise<TaskView | null>;

/**
 * Why the task, as the read model or its workflow has it, takes no push from the agent: not its
 * own (`notYours`), or not being worked on. Null when it does.
 */
function holderRefusal(
  taskId: string,
  agentId: string,
  task: Pick<TaskView, 'assignedAgentId' | 'state'>,
  notYours: string,
): string | null {
  if (task.assignedAgentId !== agentId) return `task ${taskId} ${notYours}`;
  if (!WORKING_STATES.includes(task.state)) {
    return `task ${taskId} is ${task.state}; push while you work on it (in_progress)`;
  }
  return null;
}

/** Why the workflow refuses a push the read model allowed, or null when it allows it too. */
function workflowRefusal(taskId: string, agentId: string, view: TaskView | null): string | null {
  if (view === null) {
    return `aiworker could not confirm that task ${taskId} is still yours (Temporal or its workers are slow or away); push again shortly`;
  }
  return holderRefusal(taskId, agentId, view, 'is no longer assigned to you');
}

/** Says why an update is refused, or null when the agent may make it. */
function refusalOf(
  update: RefUpdate,
  projectId: string,
  agentId: string,
  tasks: Map<string, TaskRecord | undefined>,
): string | null {
  const { ref } = update;
  if (ref === 'refs/heads/staging') {
    return 'staging changes only through merges people approve in aiworker';
  }
  if (ref.startsWith('refs/tags/')) return 'tags are not accepted; push your task branch';
  const taskId = TASK_BRANCH.exec(ref)?.[1];
  if (!taskId || !UUID.test(taskId)) {
    return 'push only to task-<id>-feature of a task assigned to you';
  }
  if (isDelete(update)) return 'deleting branches is not allowed';
  const task = tasks.get(taskId);
  if (!task || task.projectId !== projectId) return `task ${taskId} is not a task of this project`;
  return holderRefusal(taskId, agentId, task, 'is not assigned to you');
}

/**
 * Judges every update of a push by the agent, reading its tasks from the read model as they are
 * now, then asking the workflow of each task the read model allows. When any update is refused,
 * the others are refused too ("atomic").
 */
export async function judgePush(
  db: Db,
  askWorkflow: AskWorkflow,
  push: { projectId: string; agentId: string; updates: RefUpdate[] },
): Promise<Verdict[]> {
  const ids = new Set<string>();
  for (const { ref } of push.updates) {
    const id = TASK_BRANCH.exec(ref)?.[1];
    if (id && UUID.test(id)) ids.add(id);
  }
  const tasks = new Map<string, TaskRecord | undefined>();
  for (const id of ids) tasks.set(id, await findTask(db, id));
  const verdicts = push.updates.map((update) => ({
    update,
    refusal: refusalOf(update, push.projectId, push.agentId, tasks),
  }));
  if (verdicts.every((v) => v.refusal === null)) {
    // Allowed by the read model: the workflows, asked at once, have the last word.
    const asked = [...ids];
    const views = await Promise.all(asked.map((id) => askWorkflow(id).catch(() => null)));
    const refusals = new Map(
      asked.map((id, i) => [id, workflowRefusal(id, push.agentId, views[i] ?? null)]),
    );
    for (const v of verdicts) {
      const id = TASK_BRANCH.exec(v.update.ref)?.[1];
      if (id) v.refusal = refusals.get(id) ?? null;
    }
  }
  if (verdicts.every((v) => v.refusal === null)) return verdicts;
  return verdicts.map((v) => ({
    update: v.update,
    refusal: v.refusal ?? 'not applied: another update of this push was refused',
  }));
}
