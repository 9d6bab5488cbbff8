/**
 * Detached process groups, found again through /proc after the worker that started them is gone:
 * a local preview's app (with its sandbox) or an install still running. A group is recorded as
 * its leader's pid and start time, so a recycled pid is never mistaken for it.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A detached process group the local runtime started. */
export interface ProcessGroup {
  /** Leader of the group (its pgid is the same number). */
  pid: number;
  /** The leader's start time (/proc), so a recycled pid is never mistaken for the preview. */
  pidStartedAt: string | null;
}

const STOP_GRACE_MS = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fields 3 onwards of /proc/<pid>/stat (field 2, the name, may hold spaces and parentheses). */
function procStat(pid: number | string): string[] | null {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return line.slice(line.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The start time of `pid`, as /proc tells it (null once it is gone). */
export function startTimeOf(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

/** Sends `sig` to a pid (or a group, negative); false when there is no such process. */
export function signal(target: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether any process of group `pgid` is alive. Zombies do not count: an exited process whose
 * parent is gone may wait a long time to be reaped in a container, yet it runs nothing.
 */
export function groupAlive(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return signal(-pgid, 0);
  }
  return pids.some((pid) => {
    const fields = procStat(pid);
    return fields !== null && fields[0] !== 'Z' && fields[2] === String(pgid);
  });
}

/** Whether the group's processes still run (and are the ones that were recorded). */
export function running(group: ProcessGroup): boolean {
  const leader = procStat(group.pid);
  if (leader && leader[0] !== 'Z') {
    // A live process under a recycled pid is someone else's: never ours to reuse or signal.
    return group.pidStartedAt === null || leader[19] === group.pidStartedAt;
  }
  // The leader is gone but its group may live on; Linux never hands out a pid that is still
  // some group's id, so those members are the preview's.
  return groupAlive(group.pid);
}

/**
 * SIGTERM to the whole group, then SIGKILL to whatever is left after a grace period. A sandbox's
 * processes are members of the group too, and SIGKILL to the first process of its pid namespace
 * ends every process inside, whatever group they moved to.
 */
export async function stopGroup(group: ProcessGroup): Promise<void> {
  if (!running(group)) return;
  signal(-group.pid, 'SIGTERM');
  for (const [sig, wait] of [
    ['SIGKILL', STOP_GRACE_MS],
    [null, 2_000],
  ] as const) {
    const deadline = Date.now() + wait;
    while (Date.now() < deadline && groupAlive(group.pid)) await sleep(50);
    if (!groupAlive(group.pid)) return;
    if (sig) signal(-group.pid, sig);
  }
}
