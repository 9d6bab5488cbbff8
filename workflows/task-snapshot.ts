import { TASK_SNAPSHOT_VERSION } from '../contracts/task';
import type { TaskSnapshot } from '../contracts/task';

/**
 * Reads the snapshot a task workflow continued as new with, written by this release or an
 * earlier one (formats: `TASK_SNAPSHOT_VERSION`). A snapshot from a later release (a worker
 * rolled back behind the tasks it had continued) is not guessed at: the workflow task fails, and
 * Temporal retries it until a worker of that release takes it; the task is reported stuck
 * meanwhile (docs/operations.md, "Upgrading").
 */
export function readTaskSnapshot(
  snapshot: TaskSnapshot,
): Required<Pick<TaskSnapshot, 'version'>> & TaskSnapshot {
  const version = snapshot.version ?? 1;
  if (!Number.isInteger(version) || version < 1 || version > TASK_SNAPSHOT_VERSION) {
    throw new Error(
      `task ${snapshot.view?.id ?? '?'} continued with snapshot format ${String(version)}, ` +
        `which this worker cannot read (it reads formats 1 to ${TASK_SNAPSHOT_VERSION}): ` +
        `run a worker of the release that wrote it`,
    );
  }
  return { ...snapshot, version };
}
