import type { Actor } from './actor';
import type { TaskState } from './task-state';

/** The agent-driven delivery steps that call the forge or the preview runtime. */
export type DeliveryStep = 'create_branch' | 'create_pr' | 'trigger_preview';

/**
 * Events published to socket.io clients (README, "Live events"). Every payload also
 * carries `projectId`, `seq` (position in the project's event log, for catching up), `at` and
 * `actor` (who did it).
 */
export interface EventPayloads {
  'task:created': { taskId: string; title: string; priority: number };
  'task:status_changed': { taskId: string; oldState: TaskState; newState: TaskState };
  'task:needs_input': { taskId: string; questionId: string; question: string };
  'task:question_answered': { taskId: string; questionId: string };
  'task:input_reminder': { taskId: string; questionId: string; waitingSince: string };
  'task:changes_requested': { taskId: string; feedback: string };
  'task:ready_to_test': { taskId: string; previewUrl: string | null };
  'task:progress': { taskId: string; agentId: string; message: string };
  'task:branch_created': { taskId: string; branch: string };
  'task:pr_opened': { taskId: string; prNumber: number; prUrl: string };
  'task:delivery_failed': { taskId: string; step: DeliveryStep; message: string };
  'task:merge_started': { taskId: string; mergeId: string };
  'task:merge_conflict': { taskId: string; mergeId: string; files: string[] };
  'task:merge_rolled_back': { taskId: string; mergeId: string; reason: string };
  /** The task's workflow fails every workflow task: the task cannot change until it recovers. */
  'task:stuck': { taskId: string; since: string; reason: string };
  'task:recovered': { taskId: string };
  'preview:removed': { taskId: string | null; name: string; reason: string };
  'merge:progress': { mergeId: string; state: string; detail: string | null };
  'deploy:started': { environment: string; taskIds: string[]; mergeId: string };
  'deploy:completed': { environment: string; url: string | null; mergeId: string };
  'deploy:failed': { environment: string; reason: string; mergeId: string };
  'agent:status': { agentId: string; status: 'working' | 'idle'; currentTaskId: string | null };
}

export type EventType = keyof EventPayloads;

/** The fields every delivered event carries besides its own. */
export interface EventEnvelope {
  projectId: string;
  seq: number;
  at: string;
  /** Who did it; `UNKNOWN_ACTOR` for events recorded before release 0.5.0. */
  actor: Actor;
}

export type DeliveredEvent<T extends EventType = EventType> = EventPayloads[T] & EventEnvelope;

/** An event as the task workflow records it, before it has a project-wide `seq`. */
export interface RecordedEvent<T extends EventType = EventType> {
  taskSeq: number;
  type: T;
  payload: EventPayloads[T];
  at: string;
  /** Absent in histories recorded before release 0.5.0. */
  actor?: Actor;
}

/** The socket.io room of a project's events. */
export function projectRoom(projectId: string): string {
  return `project:${projectId}`;
}

/**
 * Plain Redis channel on which every published task change is announced (`TaskWakeup`), so that
 * API processes can wake long-polling MCP calls (get_next_task, check_response) at once.
 */
export const TASK_WAKEUP_CHANNEL = 'aiworker:task-wakeups';

/**
 * Sent by an API process to its socket.io clients when its Redis subscription was lost and is
 * back: events published meanwhile were not relayed, so clients subscribe again with `afterSeq`.
 */
export const RESYNC_EVENT = 'resync';

export interface TaskWakeup {
  projectId: string;
  taskId: string;
  types: EventType[];
}
