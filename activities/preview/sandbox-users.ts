/**
 * The user each preview runs as when the worker runs as root: a numeric id of its own from the
 * configured range (no /etc/passwd entry), so previews cannot signal or read one another, and
 * RLIMIT_NPROC counts one preview's processes only. `<previewsDir>/.uids/<slot>` files hold the
 * claims: created exclusively, so two deploys never take the same id.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PreviewFailed } from './runtime';
import type { SandboxSettings } from '../../platform/config';

const run = promisify(execFile);
const CLAIMS = '.uids';
const CHOWN_TIMEOUT_MS = 300_000;

/** Whether this process may give previews users of their own. */
export function workerIsRoot(): boolean {
  return process.getuid?.() === 0;
}

async function claims(previewsDir: string): Promise<Map<number, string>> {
  const dir = path.join(previewsDir, CLAIMS);
  const found = new Map<number, string>();
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const name = await readFile(path.join(dir, entry), 'utf8').catch(() => null);
    if (name !== null) found.set(Number(entry), name.trim());
  }
  return found;
}

/**
 * The user id of preview `name`: the one it holds, or a free one claimed now. Claims whose
 * preview folder is gone (a teardown interrupted halfway) are taken back when the range is full.
 */
export async function claimUid(
  previewsDir: string,
  name: string,
  settings: SandboxSettings,
): Promise<number> {
  const dir = path.join(previewsDir, CLAIMS);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    const held = await claims(previewsDir);
    for (const [slot, holder] of held) {
      if (holder === name && slot < settings.uidCount) return settings.uidBase + slot;
    }
    for (let slot = 0; slot < settings.uidCount; slot++) {
      if (held.has(slot)) continue;
      try {
        await writeFile(path.join(dir, String(slot)), `${name}\n`, { flag: 'wx', mode: 0o600 });
        return settings.uidBase + slot;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    for (const [slot, holder] of held) {
      if (!(await stat(path.join(previewsDir, holder)).catch(() => null))) {
        await rm(path.join(dir, String(slot)), { force: true });
      }
    }
  }
  throw new PreviewFailed(
    `all ${settings.uidCount} preview user ids (from ${settings.uidBase}) are taken: tear previews ` +
      'down or raise AIWORKER_PREVIEW_UID_COUNT',
  );
}

/** Gives back the user id of preview `name` (after its folder is gone). */
export async function releaseUid(previewsDir: string, name: string): Promise<void> {
  for (const [slot, holder] of await claims(previewsDir)) {
    if (holder === name) await rm(path.join(previewsDir, CLAIMS, String(slot)), { force: true });
  }
}

/**
 * Refuses a uid range that /etc/subuid or /etc/subgid hands out to someone (rootless containers):
 * their processes would then own the previews' files.
 */
export async function checkRangeIsFree(settings: SandboxSettings): Promise<void> {
  const first = settings.uidBase;
  const last = settings.uidBase + settings.uidCount - 1;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const [owner, start, count] = line.trim().split(':');
      if (!owner || !start || !count) continue;
      const from = Number(start);
      const to = from + Number(count) - 1;
      if (from <= last && first <= to) {
        throw new PreviewFailed(
          `preview user ids ${first}-${last} overlap ${file} (${owner} has ${from}-${to}): set ` +
            'AIWORKER_PREVIEW_UID_BASE to a range nobody else uses',
        );
      }
    }
  }
}

/**
 * Checks that user `uid` can reach `dir`: bubblewrap runs as that user and resolves the folders
 * it mounts with that user's rights, so every parent must be searchable by others.
 */
export async function checkReachable(dir: string, uid: number): Promise<void> {
  const parents: string[] = [];
  for (let p = path.dirname(path.resolve(dir)); ; p = path.dirname(p)) {
    parents.unshift(p);
    if (p === path.dirname(p)) break;
  }
  for (const p of parents) {
    const s = await stat(p);
    if (s.uid !== uid && (s.mode & constants.S_IXOTH) === 0) {
      throw new PreviewFailed(
        `previews run as their own users, which cannot reach ${dir}: ${p} is not searchable by ` +
          `others. Run \`chmod o+x ${p}\` (it lists nothing; the files keep their own modes) or ` +
          'put AIWORKER_DATA_DIR somewhere they can reach',
      );
    }
  }
}

/** Makes `uid` the owner of everything in `dir`, symbolic links themselves and never what they point to. */
export async function chownTree(dir: string, uid: number): Promise<void> {
  await run('chown', ['-R', '-P', '-h', `${uid}:${uid}`, '--', dir], {
    timeout: CHOWN_TIMEOUT_MS,
  });
}
