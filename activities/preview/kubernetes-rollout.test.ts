import type { V1Deployment } from '@kubernetes/client-node';
import { rolloutState } from './kubernetes-rollout';

/** A Deployment at generation 3 with `status`; the HTTP tests cover the states a rollout passes. */
const at = (status: V1Deployment['status']): V1Deployment => ({
  metadata: { name: 'task-1', generation: 3 },
  spec: { replicas: 1, selector: {}, template: {} },
  status,
});

describe('rolloutState', () => {
  it('is done only once the latest generation is observed, updated and available', () => {
    const complete = { replicas: 1, updatedReplicas: 1, availableReplicas: 1 };
    expect(rolloutState(at({ ...complete, observedGeneration: 2 })).done).toBe(false);
    expect(rolloutState(at({ ...complete, observedGeneration: 3 })).done).toBe(true);
    // An old pod still running next to the new one.
    expect(rolloutState(at({ ...complete, replicas: 2, observedGeneration: 3 })).done).toBe(false);
  });

  it('reports a rollout the controller gave up on, or could not create pods for', () => {
    expect(
      rolloutState(
        at({
          observedGeneration: 3,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "task-1-abc" has timed out progressing.',
            },
          ],
        }),
      ).failed,
    ).toBe('ProgressDeadlineExceeded: ReplicaSet "task-1-abc" has timed out progressing.');
    expect(
      rolloutState(
        at({
          observedGeneration: 3,
          conditions: [
            {
              type: 'ReplicaFailure',
              status: 'True',
              reason: 'FailedCreate',
              message: 'pods "task-1-abc-x" is forbidden: exceeded quota: compute',
            },
          ],
        }),
      ).failed,
    ).toMatch(/^FailedCreate: .*exceeded quota/);
  });
});
