import { z } from 'zod';

/** Body of `POST /api/agents` (README, "HTTP API"). */
export const registerAgentBody = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(120, 'at most 120 characters'),
    /** Projects the agent may work on; none means every project. */
    projectIds: z.array(z.string().uuid('expected a UUID')).max(100).optional(),
  })
  .strict();

/** An agent as the API shows it (never with its token). */
export interface AgentRecord {
  id: string;
  name: string;
  /** Empty: the agent may work on every project. */
  projectIds: string[];
  createdAt: string;
  lastSeenAt: string | null;
}

/** What the registration workflow records: the token only as its hash. */
export interface NewAgent {
  id: string;
  name: string;
  tokenHash: string;
  projectIds: string[];
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
}
