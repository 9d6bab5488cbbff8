import { defaultPayloadConverter } from '@temporalio/common';
import { TASK_SNAPSHOT_VERSION } from '../contracts/task';
import type { TaskWorkflowInput } from '../contracts/task';
import { corpusReleases, readHistory, readManifest } from '../test/replay/corpus';
import { TaskMachine } from './task-machine';
import { readTaskSnapshot } from './task-snapshot';

/** The input every continued run of a task in the replay corpus started with. */
function continuedInputs(): Array<{ release: string; label: string; input: TaskWorkflowInput }> {
  return corpusReleases().flatMap((release) =>
    readManifest(release)
      .histories.filter((h) => h.workflowType === 'taskWorkflow' && h.run > 1)
      .map((entry) => {
        const started = readHistory(release, entry).events![0]!
          .workflowExecutionStartedEventAttributes!;
        const input = defaultPayloadConverter.fromPayload<TaskWorkflowInput>(
          started.input!.payloads![0]!,
        );
        return { release, label: entry.label, input };
      }),
  );
}

/**
 * A task that continues as new carries its whole state in a snapshot; a worker of a later
 * release must read every snapshot an earlier one wrote (docs/architecture.md, "Changing
 * workflow code").
 */
describe('task snapshots', () => {
  const inputs = continuedInputs();

  it('the corpus has continued runs of every release to read', () => {
    expect(new Set(inputs.map((i) => i.release))).toEqual(new Set(corpusReleases()));
  });

  it('every snapshot in the corpus resumes a task exactly where it was', () => {
    for (const { release, label, input } of inputs) {
      const snapshot = input.snapshot!;
      const { machine, change } = TaskMachine.create(input, new Date());
      expect({ release, label, view: machine.current(), change }).toEqual({
        release,
        label,
        view: snapshot.view,
        change: [],
      });
      expect(machine.transitions()).toEqual(snapshot.history);
      // Written without a version by release 0.1.0: read as format 1.
      expect(readTaskSnapshot(snapshot).version).toBe(snapshot.version ?? 1);
    }
  });

  it('a snapshot of a later format is refused in words an operator can act on', () => {
    const { input } = inputs[0]!;
    const later = { ...input.snapshot!, version: TASK_SNAPSHOT_VERSION + 1 };
    expect(() => readTaskSnapshot(later)).toThrow(
      `snapshot format ${TASK_SNAPSHOT_VERSION + 1}, which this worker cannot read (it reads formats 1 to ${TASK_SNAPSHOT_VERSION}): run a worker of the release that wrote it`,
    );
  });
});
