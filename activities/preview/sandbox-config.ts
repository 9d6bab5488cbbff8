/**
 * What a local preview's sandbox allows: the project's choices (`preview.env`, `installNetwork`,
 * `limits`) with their defaults. The operator's settings (`AIWORKER_PREVIEW_SANDBOX` and the range
 * of user ids previews run as) are read with the rest of the configuration (platform/config.ts).
 */
import { z } from 'zod';
import { previewEnvSchema, previewLimitsSchema } from '../../contracts/project';
import type { SandboxSettings } from '../../platform/config';
import { PreviewFailed } from './runtime';
import type { PreviewConfig } from './runtime';

/** What one preview may use; every field is a project's `preview.limits` field. */
export interface SandboxLimits {
  /** Address space of each process (RLIMIT_AS), MiB. */
  memoryMb: number;
  /** CPU time of each process (RLIMIT_CPU), seconds. */
  cpuSeconds: number;
  /** Processes and threads of the preview's user together (RLIMIT_NPROC). */
  processes: number;
  /** Largest file written (RLIMIT_FSIZE), MiB; the preview's log is one of its files. */
  fileSizeMb: number;
  /** Size of each of the in-memory `/tmp` and `/dev/shm`, MiB. */
  tmpMb: number;
  /** The checkout with everything the install and the app wrote into it, MiB. */
  diskMb: number;
}

/**
 * Defaults for `preview.limits`. The address space is generous on purpose: it caps a runaway
 * process, while what a Node.js app really uses is far below it.
 */
export const DEFAULT_LIMITS: SandboxLimits = {
  memoryMb: 4096,
  cpuSeconds: 3600,
  processes: 256,
  fileSizeMb: 1024,
  tmpMb: 256,
  diskMb: 4096,
};

/** A project's sandbox settings, checked, with defaults filled in. */
export interface ProjectSandbox {
  env: Record<string, string>;
  installNetwork: boolean;
  limits: SandboxLimits;
}

function problem(field: string, error: z.ZodError): PreviewFailed {
  const first = error.issues[0];
  const where = [field, ...(first?.path ?? []).map(String)].join('.');
  return new PreviewFailed(`the project's ${where} is invalid: ${first?.message ?? 'unknown'}`);
}

/**
 * The sandbox settings of a project. The API checked them when the project was created; they are
 * checked again because the worker reads them back from the database as plain JSON.
 */
export function projectSandbox(config: PreviewConfig): ProjectSandbox {
  const env = previewEnvSchema.optional().safeParse(config.env);
  if (!env.success) throw problem('preview.env', env.error);
  const limits = previewLimitsSchema.optional().safeParse(config.limits);
  if (!limits.success) throw problem('preview.limits', limits.error);
  const installNetwork = z.boolean().optional().safeParse(config.installNetwork);
  if (!installNetwork.success) throw problem('preview.installNetwork', installNetwork.error);
  return {
    env: env.data ?? {},
    installNetwork: installNetwork.data ?? false,
    limits: { ...DEFAULT_LIMITS, ...limits.data },
  };
}

/** The sandbox settings when the operator sets none (README, "Configuration"). */
export const DEFAULT_SANDBOX: SandboxSettings = { mode: 'bwrap', uidBase: 200_000, uidCount: 1000 };
