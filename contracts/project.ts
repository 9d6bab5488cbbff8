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

/** Names a preview's environment variable may take: upper-case shell names. */
export const PREVIEW_ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
/** How much `preview.env` may hold: variables, name and value lengths, and all of it together. */
export const PREVIEW_ENV_BOUNDS = {
  count: 64,
  nameLength: 128,
  valueLength: 4096,
  totalLength: 32_768,
} as const;
/** Variables aiworker sets itself in a preview; a project may not declare them. */
export const RESERVED_PREVIEW_ENV: readonly string[] = ['PORT'];

/**
 * `preview.env`: the only variables a preview's install and app see besides `PORT` and a minimal
 * PATH/HOME/TMPDIR/LANG. Anyone who can read the project can read them: not a secret store.
 */
export const previewEnvSchema = z
  .record(
    z
      .string()
      .max(PREVIEW_ENV_BOUNDS.nameLength)
      .regex(PREVIEW_ENV_NAME, 'variable names are upper-case letters, digits and _'),
    z.string().max(PREVIEW_ENV_BOUNDS.valueLength),
  )
  .superRefine((env, ctx) => {
    const names = Object.keys(env);
    if (names.length > PREVIEW_ENV_BOUNDS.count) {
      ctx.addIssue({ code: 'custom', message: `at most ${PREVIEW_ENV_BOUNDS.count} variables` });
    }
    const total = names.reduce((n, k) => n + k.length + env[k]!.length, 0);
    if (total > PREVIEW_ENV_BOUNDS.totalLength) {
      ctx.addIssue({
        code: 'custom',
        message: `names and values together are at most ${PREVIEW_ENV_BOUNDS.totalLength} characters`,
      });
    }
    for (const name of names.filter((n) => RESERVED_PREVIEW_ENV.includes(n))) {
      ctx.addIssue({ code: 'custom', path: [name], message: `${name} is set by aiworker` });
    }
  });

const whole = (min: number, max: number) => z.number().int().min(min).max(max).optional();

/** `preview.limits`: what one local preview may use (defaults in activities/preview/sandbox-config.ts). */
export const previewLimitsSchema = z
  .object({
    /** Address space of each process (RLIMIT_AS), in MiB. */
    memoryMb: whole(256, 262_144),
    /** CPU time of each process (RLIMIT_CPU), in seconds. */
    cpuSeconds: whole(10, 604_800),
    /** Processes and threads of the preview together (RLIMIT_NPROC of its own user). */
    processes: whole(16, 16_384),
    /** Largest file it may write (RLIMIT_FSIZE), in MiB; its log counts. */
    fileSizeMb: whole(1, 1_048_576),
    /** Size of each of its in-memory `/tmp` and `/dev/shm`, in MiB. */
    tmpMb: whole(1, 65_536),
    /** Everything in its checkout together (dependencies included), in MiB. */
    diskMb: whole(16, 4_194_304),
  })
  .strict();

/** A Kubernetes quantity (`250m`, `1`, `512Mi`, `2Gi`). */
const quantity = z
  .string()
  .regex(
    /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/,
    'expected a Kubernetes quantity like 500m or 512Mi',
  )
  .optional();

/** `preview.resources`: the Kubernetes runtime's container requests and limits. */
export const previewResourcesSchema = z
  .object({
    cpuRequest: quantity,
    cpuLimit: quantity,
    memoryRequest: quantity,
    memoryLimit: quantity,
  })
  .strict();

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
        env: previewEnvSchema.optional(),
        /** Lets the install step use the host's network (and so reach its services). */
        installNetwork: z.boolean().optional(),
        limits: previewLimitsSchema.optional(),
        resources: previewResourcesSchema.optional(),
        runAsUser: z.number().int().min(1).max(2_147_483_647).optional(),
        readOnlyRootFilesystem: z.boolean().optional(),
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
