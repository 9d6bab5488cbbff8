/**
 * What a local preview's sandbox allows: the project's choices (`preview.env`, `installNetwork`,
 * `limits`) with their defaults, and the operator's (`AIWORKER_PREVIEW_SANDBOX` and the range of
 * user ids previews run as).
 */
import { z } from 'zod';
import { previewEnvSchema, previewLimitsSchema } from '../../contracts/project';
import { ConfigError } from '../../platform/errors';
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

/**
 * How previews are isolated. `bwrap`: each install and app runs in a bubblewrap sandbox (the
 * default). `none`: as plain processes of the worker's user, with its files and network; unsafe,
 * for machines where user namespaces are not available and every branch is trusted.
 */
export type SandboxMode = 'bwrap' | 'none';

/** The operator's sandbox settings (README, "Configuration"). */
export interface SandboxSettings {
  mode: SandboxMode;
  /** First user id of the range previews run as when the worker runs as root. */
  uidBase: number;
  /** How many previews may run at once on this machine when the worker runs as root. */
  uidCount: number;
}

export const DEFAULT_SANDBOX: SandboxSettings = { mode: 'bwrap', uidBase: 200_000, uidCount: 1000 };

/** Variables {@link sandboxSettingsFromEnv} reads. */
export const SANDBOX_VARIABLES = [
  'AIWORKER_PREVIEW_SANDBOX',
  'AIWORKER_PREVIEW_UID_BASE',
  'AIWORKER_PREVIEW_UID_COUNT',
] as const;

const wholeNumber = (min: number, max: number) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int('expected a whole number')
    .min(min, `expected at least ${min}`)
    .max(max, `expected at most ${max}`);

const sandboxEnvSchema = z.object({
  AIWORKER_PREVIEW_SANDBOX: z
    .enum(['bwrap', 'none'], { error: 'expected bwrap (the default) or none (unsafe)' })
    .default(DEFAULT_SANDBOX.mode),
  // Above the ids of people and system accounts, and below 2^31 so no tool reads one as negative.
  AIWORKER_PREVIEW_UID_BASE: wholeNumber(65_536, 2_000_000_000).default(DEFAULT_SANDBOX.uidBase),
  AIWORKER_PREVIEW_UID_COUNT: wholeNumber(1, 100_000).default(DEFAULT_SANDBOX.uidCount),
});

/** Reads the sandbox settings; throws a ConfigError naming every problem. */
export function sandboxSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): SandboxSettings {
  const present = Object.fromEntries(
    SANDBOX_VARIABLES.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]]),
  );
  const parsed = sandboxEnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (i) =>
          `${String(i.path[0])}: ${i.message}; got ${JSON.stringify(present[String(i.path[0])])}`,
      ),
    );
  }
  return {
    mode: parsed.data.AIWORKER_PREVIEW_SANDBOX,
    uidBase: parsed.data.AIWORKER_PREVIEW_UID_BASE,
    uidCount: parsed.data.AIWORKER_PREVIEW_UID_COUNT,
  };
}
