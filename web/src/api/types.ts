// Shapes of the API's answers. The shared ones come from contracts/ (types only, so nothing of
// the server's code reaches the bundle); the rest are the board's view of routes defined elsewhere.
import type { AgentRecord } from '../../../contracts/agent';
import type { DeliveredEvent, EventPayloads } from '../../../contracts/events';
import type { MergeState, MergeTaskRecord, MergeView } from '../../../contracts/merge';
import type { Actor } from '../../../contracts/actor';
import type { ProjectRecord } from '../../../contracts/project';
import type { TaskRecord } from '../../../contracts/task';
import type { TaskState } from '../../../contracts/task-state';
import type { PersonalTokenRecord, UserRecord, UserRole } from '../../../contracts/user';

export type {
  AgentRecord,
  MergeState,
  MergeTaskRecord,
  PersonalTokenRecord,
  ProjectRecord,
  TaskState,
  UserRecord,
  UserRole,
};

/** A task as `GET /api/tasks/:id` answers; `prNumber` is set once the task has a pull request on the local forge. */
export type Task = TaskRecord & { prNumber?: number | null };

export type Principal =
  | { kind: 'admin'; id: string }
  | { kind: 'agent'; id: string; agentId: string; name: string }
  | {
      kind: 'user';
      id: string;
      name: string;
      email: string;
      role: UserRole;
      projectIds: string[];
      /** Signed in to the board (its session cookie), not with a personal token. */
      viaCookie: boolean;
    };

/** `POST /api/users`, and `PATCH /api/users/:id` with `resetPassword`: the password is shown once. */
export interface UserWithPassword {
  user: UserRecord;
  password: string;
}

/** `POST /api/tokens`: the new token, shown once. */
export type CreatedToken = PersonalTokenRecord & { token: string };

/** Task, merge and deploy events, as the API publishes them. */
export type LiveEventPayloads = EventPayloads;
export type LiveEventType = keyof LiveEventPayloads;

/** An event as socket.io delivers it: every one is in the project's event log, at `seq`. */
export type LiveEvent<T extends LiveEventType = LiveEventType> = LiveEventPayloads[T] & {
  projectId: string;
  seq: number;
  at: string;
  /** Who did it (a server older than this board may not say). */
  actor?: Actor;
};

/** An event of a task's timeline (`GET /api/tasks/:id/events`). */
export interface TimelineEvent {
  type: keyof EventPayloads;
  data: DeliveredEvent;
}

/** `GET /api/merges/:id`. */
export type Merge = MergeView;

/** `GET /api/projects/:projectId/pulls/:number`: a pull request on the local forge. */
export interface PullRequest {
  number: number;
  title: string;
  state: string;
  head: string;
  base: string;
  headSha: string;
  filesChanged: number;
  additions: number;
  deletions: number;
  files: Array<{ path: string; additions: number; deletions: number }>;
}

/** What the board knows of an agent from `agent:status` events. */
export interface AgentLiveStatus {
  status: 'working' | 'idle';
  currentTaskId: string | null;
  at: string;
}
