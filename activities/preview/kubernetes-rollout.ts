/**
 * Waiting for a preview's Deployment to roll out, and telling early when it never will: a pod
 * that cannot pull its image or keeps crashing fails the deploy at once instead of at the
 * deadline, with the pod and its problem in the message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppsV1Api, CoreV1Api, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { ANNOTATIONS, NAME_LABEL } from './kubernetes-manifests';
import type { ValidSpec } from './kubernetes-manifests';
import { kubeCall } from './kubernetes-errors';
import { PreviewFailed } from './runtime';

/**
 * Waiting reasons after which the kubelet only retries the same thing: a missing image, a
 * crashing app or a missing Secret/ConfigMap do not fix themselves.
 */
const HOPELESS_WAITING = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
]);

/** Where a rollout stands, in the terms `kubectl rollout status` uses. */
export interface RolloutState {
  done: boolean;
  /** Why it cannot complete, when the Deployment itself says so. */
  failed?: string;
  /** For progress reports and the deadline's message. */
  detail: string;
}

/** Reads a Deployment's rollout from its status, like `kubectl rollout status`. */
export function rolloutState(d: V1Deployment): RolloutState {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  // Until the controller has seen the latest spec, the status describes the previous one.
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 1)) {
    return { done: false, detail: 'waiting for the deployment controller to see the new spec' };
  }
  const conditions = s.conditions ?? [];
  const stuck = conditions.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  const replicaFailure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  const failed = stuck ?? replicaFailure;
  const updated = s.updatedReplicas ?? 0;
  const detail = `${updated}/${want} updated, ${s.availableReplicas ?? 0} available`;
  if (failed) return { done: false, failed: `${failed.reason}: ${failed.message ?? ''}`, detail };
  const done =
    updated >= want && (s.replicas ?? 0) <= updated && (s.availableReplicas ?? 0) >= updated;
  return { done, detail };
}

/** The first problem that will not pass among the pods running `commit`, or null. */
export function podProblem(pods: V1Pod[], commit: string): string | null {
  for (const pod of pods) {
    if (pod.metadata?.annotations?.[ANNOTATIONS.commit] !== commit) continue;
    const name = pod.metadata?.name ?? '(unnamed pod)';
    const statuses = [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
    ];
    for (const c of statuses) {
      const waiting = c.state?.waiting;
      if (waiting?.reason && HOPELESS_WAITING.has(waiting.reason)) {
        const last = c.lastState?.terminated;
        const exit = last ? ` (last exit code ${last.exitCode})` : '';
        return `pod ${name}, container ${c.name}: ${waiting.reason}${exit}${waiting.message ? `: ${waiting.message}` : ''}`;
      }
      const ended = c.state?.terminated;
      if (ended && ended.exitCode !== 0) {
        return `pod ${name}, container ${c.name}: exited with code ${ended.exitCode}${ended.reason ? ` (${ended.reason})` : ''}${ended.message ? `: ${ended.message}` : ''}`;
      }
    }
    if (pod.status?.phase === 'Failed') {
      return `pod ${name} failed${pod.status.reason ? `: ${pod.status.reason}` : ''}${pod.status.message ? ` ${pod.status.message}` : ''}`;
    }
  }
  return null;
}

/** One line per pod of `commit`, for the deadline's message. */
function podSummary(pods: V1Pod[], commit: string): string {
  const lines = pods
    .filter((p) => p.metadata?.annotations?.[ANNOTATIONS.commit] === commit)
    .map((p) => {
      const waiting = p.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
      const unschedulable = p.status?.conditions?.find(
        (c) => c.type === 'PodScheduled' && c.status === 'False',
      );
      const why = waiting?.reason ?? unschedulable?.message ?? unschedulable?.reason;
      return `pod ${p.metadata?.name}: ${p.status?.phase ?? 'Unknown'}${why ? ` (${why})` : ''}`;
    });
  return lines.length ? lines.join('; ') : 'no pod was created';
}

/** What `waitForRollout` needs. */
export interface RolloutWait {
  apps: AppsV1Api;
  core: CoreV1Api;
  v: ValidSpec;
  timeoutMs: number;
  pollMs: number;
  progress?: (detail: string) => void;
}

/** Resolves once the preview's Deployment runs `v.spec.commit` and is available. */
export async function waitForRollout(w: RolloutWait): Promise<void> {
  const { name } = w.v.spec;
  const { namespace } = w.v;
  const deadline = Date.now() + w.timeoutMs;
  for (;;) {
    const deployment = await kubeCall(
      { verb: 'get', resource: 'deployments.apps', namespace },
      () => w.apps.readNamespacedDeployment({ name, namespace }),
    );
    const state = rolloutState(deployment);
    if (state.done) return;
    const pods = await kubeCall({ verb: 'list', resource: 'pods', namespace }, () =>
      w.core.listNamespacedPod({ namespace, labelSelector: `${NAME_LABEL}=${name}` }),
    );
    const problem = podProblem(pods.items, w.v.spec.commit);
    if (problem) throw new PreviewFailed(`preview ${name} cannot start: ${problem}`);
    if (state.failed) throw new PreviewFailed(`preview ${name} cannot roll out: ${state.failed}`);
    if (Date.now() >= deadline) {
      throw new PreviewFailed(
        `preview ${name} was not ready after ${Math.round(w.timeoutMs / 1000)}s: ${state.detail}; ${podSummary(pods.items, w.v.spec.commit)}`,
      );
    }
    w.progress?.(`rolling out ${namespace}: ${state.detail}`);
    await sleep(Math.min(w.pollMs, Math.max(0, deadline - Date.now())));
  }
}
