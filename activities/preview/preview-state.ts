/**
 * What a local preview's folder records: `preview.json` (the running preview, found again by a
 * later deploy, teardown or list), `install.json` (an install still running) and the log.
 */
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** Records the preview in `dir`. */
export async function writeState(dir: string, state: PreviewState): Promise<void> {
  // Write then rename: a reader never sees half a file.
  const tmp = path.join(dir, 'preview.json.tmp');
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path.join(dir, 'preview.json'));
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
