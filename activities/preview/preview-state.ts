/**
 * What a local preview's folder records: `preview.json` (the running preview, found again by a
 * later deploy, teardown or list), `install.json` (an install still running) and the log.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { stopGroup } from './process-groups';
import type { ProcessGroup } from './process-groups';
import type { PreviewInfo } from './runtime';
import type { SandboxMode } from '../../platform/config';

/** What `preview.json` holds. */
export interface PreviewState extends PreviewInfo, ProcessGroup {
  branch: string;
  port: number;
  deployedAt: string;
  /** How it runs (absent in files written before the sandbox existed: as `none`). */
  sandbox?: SandboxMode;
  /** Its own user id, or null when it runs as the worker's user. */
  uid?: number | null;
  /** Its disk limit (`preview.limits.diskMb`), checked while it runs. */
  diskMb?: number;
}

/** Where a running install is recorded, so a worker that dies mid-install leaves it findable. */
export const INSTALL_FILE = 'install.json';

const LOG_TAIL_LINES = 20;

/** The last lines of a preview's log, for a failure message. */
export async function logTail(logPath: string): Promise<string> {
  try {
    const file = await open(logPath, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, 16_384);
      const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length);
      const lines = buffer.toString('utf8').trimEnd().split('\n');
      return lines.slice(-LOG_TAIL_LINES).join('\n') || '(empty log)';
    } finally {
      await file.close();
    }
  } catch {
    return '(no log)';
  }
}

/** The preview recorded in `dir`, or null when there is none (or it cannot be read). */
export async function readState(dir: string): Promise<PreviewState | null> {
  try {
    const s = JSON.parse(await readFile(path.join(dir, 'preview.json'), 'utf8')) as PreviewState;
    const ok =
      Number.isInteger(s.pid) &&
      s.pid > 1 &&
      Number.isInteger(s.port) &&
      [s.name, s.projectId, s.url, s.commit, s.createdAt].every((v) => typeof v === 'string');
    return ok ? s : null;
  } catch {
    return null;
  }
}

/** Stops an install that a worker which died left running, before the checkout it works in changes. */
export async function stopLeftoverInstall(dir: string): Promise<void> {
  const file = path.join(dir, INSTALL_FILE);
  const raw = await readFile(file, 'utf8').catch(() => null);
  if (raw === null) return;
  try {
    await stopGroup(JSON.parse(raw) as ProcessGroup);
  } catch {
    // An unreadable record names no process we could stop.
  }
  await rm(file, { force: true });
}

/** Where the latest deploy attempt of a preview leaves its mark (`claimDeploy`). */
const ATTEMPT_FILE = 'deploy-attempt';

/** One deploy attempt of a preview, which a later attempt supersedes. */
export interface DeployAttempt {
  /** Whether no later attempt (a retry on another worker, say) has started on the preview. */
  isLatest(): boolean;
  /** Records `state` as the running preview if this attempt is still the latest; false if not. */
  recordIfLatest(state: PreviewState): boolean;
  /** Forgets the recorded preview if it is still the one `state` names. */
  forget(state: PreviewState): void;
}

/**
 * Makes this the preview's latest deploy attempt. An activity retried on another worker (or a
 * worker that stopped while its attempt went on) can deploy the same preview twice at once, each
 * in a process of its own; only the latest may record what it starts, and an earlier one stops
 * what it started instead, so no app runs that no record names. Claim before reading the record:
 * an earlier attempt's app recorded before the claim is then found (and stopped or reused).
 */
export function claimDeploy(dir: string): DeployAttempt {
  // Searchable but not listable: the preview's user reaches its checkout through it.
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const token = randomUUID();
  const mark = path.join(dir, ATTEMPT_FILE);
  const record = path.join(dir, 'preview.json');
  writeFileSync(mark, token, { mode: 0o600 });
  const isLatest = () => {
    try {
      return readFileSync(mark, 'utf8') === token;
    } catch {
      return false; // torn down meanwhile
    }
  };
  return {
    isLatest,
    recordIfLatest(state) {
      // Nothing between the check and the write yields to the event loop: no other attempt of
      // this process comes in between. Write then rename: a reader never sees half a file.
      if (!isLatest()) return false;
      const tmp = `${record}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, record);
      return true;
    },
    forget(state) {
      try {
        const recorded = JSON.parse(readFileSync(record, 'utf8')) as { pid?: number };
        if (recorded.pid === state.pid) rmSync(record, { force: true });
      } catch {
        // Nothing recorded, or a later attempt's record: left as it is.
      }
    },
  };
}

/** What the runtime tells about a preview. */
export function present(s: PreviewState): PreviewInfo {
  return {
    name: s.name,
    projectId: s.projectId,
    taskId: s.taskId,
    url: s.url,
    commit: s.commit,
    createdAt: s.createdAt,
  };
}
