import { z } from 'zod';

/** A project as the read model holds it (what `GET /api/projects/:id` answers). */
export interface ProjectRecord {
  id: string;
  name: string;
  repository: { provider: 'local' | 'gitea'; owner: string | null; name: string | null };
  preview: Record<string, unknown> | null;
  /** Where the repository is cloned from, without credentials (agents get them from the MCP tools). */
  cloneUrl: string | null;
  createdAt: string;
}

/** Body of `POST /api/projects` (README, "HTTP API"). */
export const createProjectBody = z
  .object({
    name: z.string().trim().min(1).max(120),
    repository: z
      .object({
        provider: z.enum(['local', 'gitea']),
        owner: z.string().min(1).max(120).optional(),
        name: z.string().min(1).max(120).optional(),
      })
      .strict()
      .optional(),
    preview: z
      .object({
        installCommand: z.string().max(500).optional(),
        startCommand: z.string().max(500).optional(),
        healthPath: z.string().startsWith('/').max(200).optional(),
        image: z.string().max(300).optional(),
        port: z.number().int().min(1).max(65535).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type CreateProjectBody = z.infer<typeof createProjectBody>;

/** What the project workflow records: the accepted body with its new id. */
export interface NewProject {
  id: string;
  name: string;
  repository: { provider: 'local' | 'gitea'; owner?: string; name?: string };
  preview?: Record<string, unknown>;
  cloneUrl?: string;
}

/** The workflow id of a project's creation. */
export function projectWorkflowId(projectId: string): string {
  return `project-${projectId}`;
}

/** Failure type when a project name is taken (the API answers 409). */
export const PROJECT_NAME_TAKEN = 'ProjectNameTaken';
