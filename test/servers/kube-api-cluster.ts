/**
 * The state behind the Kubernetes test server: stored objects with their resourceVersion, and
 * the controllers a real cluster runs in the background, simulated: the deployment controller
 * (observedGeneration, replica counts, one pod per rollout), the kubelet (the pod starts, or
 * waits with a failure reason, or exits) and the namespace controller (a deleted namespace
 * stays Terminating for a while, then goes with everything in it). Time moves forward whenever
 * the server is asked something, so there are no timers to leak.
 */
import { randomUUID } from 'node:crypto';
import { clone } from './kube-api-objects';
import type { KubeObject } from './kube-api-objects';

/** How the simulated kubelet treats the pods of a rollout that starts while it is set. */
export type RolloutOutcome =
  | 'ready'
  /** Pods stay Pending (ContainerCreating) forever. */
  | 'hang'
  /** Containers wait with this reason, e.g. `ImagePullBackOff` or `CrashLoopBackOff`. */
  | { waiting: string; message?: string }
  /** The container exits with this code (state `terminated`). */
  | { exitCode: number };

/** The rollout the simulated controller runs after a Deployment's pod template changes. */
export interface RolloutBehaviour {
  /** Time from the controller seeing the change to the pod settling. */
  delayMs: number;
  outcome: RolloutOutcome;
}

interface Rollout {
  behaviour: RolloutBehaviour;
  /** When the spec changed; the controller observes it `observeDelayMs` later. */
  changedAt: number;
  generation: number;
  observedAt?: number;
  podName?: string;
  settled: boolean;
}

const scheduled = { type: 'PodScheduled', status: 'True' };
const notReady = { type: 'Ready', status: 'False', reason: 'ContainersNotReady' };

/** The kubelet's report on a pod's only container, by outcome. */
function podStatus(outcome: RolloutOutcome | 'pending', image: string): KubeObject {
  const container = {
    name: 'app',
    image,
    imageID: '',
    restartCount: 0,
    ready: false,
    started: false,
  };
  if (outcome === 'pending' || outcome === 'hang') {
    return {
      phase: 'Pending',
      conditions: [scheduled, notReady],
      containerStatuses: [{ ...container, state: { waiting: { reason: 'ContainerCreating' } } }],
    };
  }
  if (outcome === 'ready') {
    const startedAt = new Date().toISOString();
    return {
      phase: 'Running',
      conditions: [scheduled, { type: 'Ready', status: 'True' }],
      containerStatuses: [
        { ...container, ready: true, started: true, state: { running: { startedAt } } },
      ],
    };
  }
  if ('waiting' in outcome) {
    // A crash loop is a container that ran, exited and waits to be restarted again.
    const crash = outcome.waiting === 'CrashLoopBackOff';
    const { waiting: reason, message } = outcome;
    return {
      phase: crash ? 'Running' : 'Pending',
      conditions: [scheduled, notReady],
      containerStatuses: [
        {
          ...container,
          restartCount: crash ? 3 : 0,
          state: { waiting: { reason, ...(message ? { message } : {}) } },
          ...(crash ? { lastState: { terminated: { exitCode: 1, reason: 'Error' } } } : {}),
        },
      ],
    };
  }
  const reason = outcome.exitCode ? 'Error' : 'Completed';
  return {
    phase: 'Running',
    conditions: [scheduled, notReady],
    containerStatuses: [
      { ...container, state: { terminated: { exitCode: outcome.exitCode, reason } } },
    ],
  };
}

/** Stored objects and the simulated controllers that act on them. */
export class SimulatedCluster {
  private readonly objects = new Map<string, KubeObject>();
  private readonly rollouts = new Map<string, Rollout>();
  /** The last resourceVersion handed out (the API server's etcd revision). */
  resourceVersion = 1000;
  defaultRollout: RolloutBehaviour = { delayMs: 0, outcome: 'ready' };
  readonly rolloutByNamespace = new Map<string, RolloutBehaviour>();
  namespaceDeletionMs = 0;
  observeDelayMs = 50;

  private key(plural: string, ns: string | undefined, name: string): string {
    return `${plural}|${ns ?? ''}|${name}`;
  }

  /** The stored object itself (not a copy), or undefined. */
  get(plural: string, ns: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(this.key(plural, ns, name));
  }

  /** Every object of `plural` in `ns`, or in every namespace. */
  all(plural: string, ns?: string): KubeObject[] {
    const prefix = ns === undefined ? `${plural}|` : `${plural}|${ns}|`;
    return [...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  }

  /** Stores `obj` under a new resourceVersion. */
  put(plural: string, obj: KubeObject): KubeObject {
    obj.metadata.resourceVersion = String(++this.resourceVersion);
    this.objects.set(this.key(plural, obj.metadata.namespace, obj.metadata.name), obj);
    return obj;
  }

  /** Forgets an object at once (what the API server does once no finalizer holds it). */
  remove(plural: string, ns: string | undefined, name: string): void {
    this.objects.delete(this.key(plural, ns, name));
  }

  /** A Deployment whose pod template changed starts a rollout with the behaviour set now. */
  startRollout(d: KubeObject): void {
    const ns = d.metadata.namespace as string;
    this.rollouts.set(this.key('deployments', ns, d.metadata.name), {
      behaviour: this.rolloutByNamespace.get(ns) ?? this.defaultRollout,
      changedAt: Date.now(),
      generation: d.metadata.generation,
      settled: false,
    });
  }

  /** Moves every simulated controller forward to `now`. */
  reconcile(now = Date.now()): void {
    for (const ns of this.all('namespaces')) {
      const deleted = ns.metadata.deletionTimestamp;
      if (!deleted || Date.parse(deleted) + this.namespaceDeletionMs > now) continue;
      for (const key of [...this.objects.keys()]) {
        if (key.split('|')[1] === ns.metadata.name) this.objects.delete(key);
      }
      this.remove('namespaces', undefined, ns.metadata.name);
    }
    for (const d of this.all('deployments')) {
      const r = this.rollouts.get(this.key('deployments', d.metadata.namespace, d.metadata.name));
      if (!r || r.settled) continue;
      if (r.observedAt === undefined) {
        if (now < r.changedAt + this.observeDelayMs) continue;
        r.observedAt = now;
        this.createPod(d, r);
      }
      if (now < r.observedAt + r.behaviour.delayMs || r.behaviour.outcome === 'hang') continue;
      r.settled = true;
      this.settle(d, r);
    }
  }

  /** The controller sees the new template: a new ReplicaSet with one pod, still starting. */
  private createPod(d: KubeObject, r: Rollout): void {
    const ns = d.metadata.namespace as string;
    const hash = r.generation.toString(16).padStart(6, '0');
    const template = d.spec.template;
    r.podName = `${d.metadata.name}-${hash}-${randomUUID().slice(0, 5)}`;
    this.put('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: r.podName,
        namespace: ns,
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString(),
        labels: { ...template.metadata?.labels, 'pod-template-hash': hash },
        annotations: { ...template.metadata?.annotations },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: `${d.metadata.name}-${hash}`,
            uid: randomUUID(),
            controller: true,
          },
        ],
      },
      spec: clone(template.spec),
      status: podStatus('pending', template.spec.containers[0].image),
    });
    d.status = {
      ...d.status,
      observedGeneration: r.generation,
      replicas: this.all('pods', ns).length,
      updatedReplicas: 1,
      conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' }],
    };
    this.put('deployments', d);
  }

  /** The pod settles; when it is ready, the old ReplicaSet's pods go and the rollout is done. */
  private settle(d: KubeObject, r: Rollout): void {
    const ns = d.metadata.namespace as string;
    const pod = this.get('pods', ns, r.podName!)!;
    pod.status = podStatus(r.behaviour.outcome, pod.spec.containers[0].image);
    this.put('pods', pod);
    if (r.behaviour.outcome !== 'ready') return;
    for (const p of this.all('pods', ns)) {
      if (p.metadata.name !== r.podName) this.remove('pods', ns, p.metadata.name);
    }
    d.status = {
      observedGeneration: r.generation,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
      ],
    };
    this.put('deployments', d);
  }
}
