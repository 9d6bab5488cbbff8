import type { TaskState } from './task-state';
import type { Actor, ByActor } from './actor';
import { z } from 'zod';

/** The scope of an agent that may work on every project, present and future. */
export const ALL_PROJECTS = '*';

/** Longest a token may be valid for when it has an expiry. */
const MAX_TOKEN_DAYS = 366 * 5;

/** When a token stops working: an ISO date-time in the future, at most five years away. */
export const tokenExpiry = z
  .string()
  .datetime({ offset: true, message: 'expected an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z' })
  .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
  .refine(
    (v) => Date.parse(v) < Date.now() + MAX_TOKEN_DAYS * 86_400_000,
    `must be within ${MAX_TOKEN_DAYS} days`,
  );

const projectIdList = z
  .array(z.string().uuid('expected a UUID'))
  .min(1, 'name at least one project, or "*" for every project')
  .max(100, 'at most 100 projects; use "*" for every project');

/** The projects an agent may work on: a list of ids, or `"*"` for every project, said explicitly. */
const projectScope = z.unknown().transform((value, ctx): string[] | typeof ALL_PROJECTS => {
  if (value === ALL_PROJECTS) return ALL_PROJECTS;
  if (value === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'required: a list of project ids, or "*" for every project',
    });
    return z.NEVER;
  }
  const parsed = projectIdList.safeParse(value);
  if (parsed.success) return [...new Set(parsed.data)];
  for (const issue of parsed.error.issues) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }
  return z.NEVER;
});

/** Body of `POST /api/agents` (README, "HTTP API"). */
export const registerAgentBody = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(120, 'at most 120 characters'),
    /** Projects the agent may work on: a list of ids, or `"*"` for every project (said explicitly). */
    projectIds: projectScope,
    /** Optional: the token stops working at this time. */
    expiresAt: tokenExpiry.optional(),
  })
  .strict();

/** Body of `POST /api/agents/:id/rotate`. */
export const rotateAgentBody = z
  .object({
    /** The new token's expiry; without it the agent keeps its current one. */
    expiresAt: tokenExpiry.optional(),
  })
  .strict();

/** An agent as the API shows it (never with its token). */
export interface AgentRecord {
  id: string;
  name: string;
  /** The projects it may work on, or `"*"`: every project. */
  projectIds: string[] | typeof ALL_PROJECTS;
  createdAt: string;
  lastSeenAt: string | null;
  /** When its token stops working, if ever. */
  expiresAt: string | null;
  /** When its token was revoked; a revoked agent is kept for the record. */
  revokedAt: string | null;
  /** When its token was last replaced. */
  rotatedAt: string | null;
}

/** What the registration workflow records: the token only as its hash. */
export interface NewAgent {
  id: string;
  name: string;
  tokenHash: string;
  projectIds: string[];
  /**
   * Every project. Absent in registrations started by releases before 0.3.0, where an empty
   * `projectIds` meant every project.
   */
  allProjects?: boolean;
  expiresAt?: string | null;
  /** Who registered it (absent before release 0.5.0). */
  actor?: Actor;
}

/** A change to an agent's credentials, recorded by `changeAgentCredentialsWorkflow`. */
export type AgentCredentialChange = (
  | { agentId: string; action: 'revoke' }
  | { agentId: string; action: 'rotate'; tokenHash: string; expiresAt: string | null }
) &
  ByActor;

/** Failure type when a credential change names an agent that does not exist (the API answers 404). */
export const UNKNOWN_AGENT = 'UnknownAgent';
/** Failure type when a revoked agent's token would be rotated (the API answers 409). */
export const AGENT_REVOKED = 'AgentRevoked';

/** Redis channel on which a revoked or rotated agent is announced to every API process. */
export const AGENT_CREDENTIALS_CHANNEL = 'aiworker:agent-credentials';

/** The workflow id of a change to an agent's credentials (`requestId` makes a retry the same change). */
export function agentCredentialsWorkflowId(agentId: string, requestId: string): string {
  return `agent-${agentId}-credentials-${requestId}`;
}

/** Failure type when a registration names projects that do not exist (the API answers 404). */
export const UNKNOWN_PROJECTS = 'UnknownProjects';

/** The workflow id of an agent's registration. */
export function agentWorkflowId(agentId: string): string {
  return `agent-${agentId}`;
}

/** What `get_next_task` gives an agent: everything it needs to start (README, "Connecting an agent"). */
export interface NextTask {
  id: string;
  title: string;
  description: string;
  projectId: string;
  /** The repository to clone (credentials, when needed, come with create_branch). */
  cloneUrl: string | null;
  branch: string;
  /** Change requests from reviewers, oldest first. */
  feedback: string[];
  answers: Array<{ questionId: string; question: string; answer: string | null }>;
  /** The agent already held it (it restarted, or lost an answer): carry on rather than start. */
  resumed: boolean;
  /** Its state: `in_progress`, or `needs_input` while a question of the agent waits. */
  state: TaskState;
}
