import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startKubeTestServer } from '../../test/servers/kube-api-server';
import type { KubeRecordedRequest, KubeTestServer } from '../../test/servers/kube-api-server';
import { createKubernetesRuntime } from './kubernetes';
import type { KubernetesRuntimeOptions } from './kubernetes';
import { KubernetesTransient } from './kubernetes-errors';
import { previewImage } from './kubernetes-manifests';
import { PreviewFailed, taskPreviewName } from './runtime';
import type { PreviewSpec } from './runtime';

const DOMAIN = 'previews.example.test';
const COMMIT_A = 'a'.repeat(40);
const COMMIT_B = 'b'.repeat(40);

function spec(taskId: string, overrides: Partial<PreviewSpec> = {}): PreviewSpec {
  return {
    name: taskPreviewName(taskId),
    projectId: 'proj-1',
    taskId,
    branch: `task-${taskId}-feature`,
    commit: COMMIT_A,
    cloneUrl: 'http://forge.invalid/proj-1.git',
    gitEnv: {},
    config: { image: 'registry.example.test:5000/team/app', port: 3000, healthPath: '/health' },
    ...overrides,
  };
}

/** Every request the runtime made in this file, checked against k8s/rbac.yaml by the last test. */
const seen: KubeRecordedRequest[] = [];
let server: KubeTestServer;

beforeEach(async () => {
  server = await startKubeTestServer();
});
afterEach(async () => {
  seen.push(...server.requests);
  await server.close();
});

function runtime(options: Partial<KubernetesRuntimeOptions> = {}) {
  return createKubernetesRuntime({
    kubeConfig: server.kubeConfig(),
    previewDomain: DOMAIN,
    pollMs: 20,
    readyTimeoutMs: 20_000,
    ...options,
  });
}

const calls = () => server.requests.map((r) => `${r.verb} ${r.resource}`);

/** What a create straight to the API (someone else's, or an earlier attempt's) leaves behind. */
async function createDirectly(apiPath: string, body: object) {
  const res = await fetch(`${server.url}${apiPath}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  // Not the runtime's request: keep it out of the assertions on what the runtime sent.
  server.requests.pop();
}

describe('deploy', () => {
  it('creates the namespace, Deployment, Service and Ingress of the preview', async () => {
    const progress: string[] = [];
    const info = await runtime().deploy(spec('42'), (d) => progress.push(d));

    expect(info).toEqual({
      name: 'task-42',
      projectId: 'proj-1',
      taskId: '42',
      url: `https://task-42.${DOMAIN}`,
      commit: COMMIT_A,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(progress.length).toBeGreaterThan(0);

    const ns = server.get('namespaces', undefined, 'preview-task-42')!;
    expect(ns.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'aiworker',
      'aiworker.dev/task-id': '42',
      'aiworker.dev/project-id': 'proj-1',
    });
    expect(ns.metadata.annotations).toMatchObject({
      'aiworker.dev/task-id': '42',
      'aiworker.dev/project-id': 'proj-1',
      'aiworker.dev/commit': COMMIT_A,
      'aiworker.dev/created-at': info.createdAt,
    });

    const deployment = server.get('deployments', 'preview-task-42', 'task-42')!;
    const pod = deployment.spec.template;
    const container = pod.spec.containers[0];
    expect(container.image).toBe('registry.example.test:5000/team/app:task-42-feature');
    expect(container.imagePullPolicy).toBe('Always');
    expect(container.ports).toEqual([{ name: 'http', containerPort: 3000 }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(pod.metadata.annotations['aiworker.dev/commit']).toBe(COMMIT_A);
    expect(pod.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);

    const service = server.get('services', 'preview-task-42', 'task-42')!;
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);

    const ingress = server.get('ingresses', 'preview-task-42', 'task-42')!;
    expect(ingress.spec.rules).toEqual([
      {
        host: `task-42.${DOMAIN}`,
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: 'task-42', port: { name: 'http' } } },
            },
          ],
        },
      },
    ]);
    expect(ingress.spec.ingressClassName).toBeUndefined();
  });

  it('runs the branch unprivileged, within limits, reachable only from the ingress controller', async () => {
    await runtime().deploy(spec('43'));
    const pod = server.get('deployments', 'preview-task-43', 'task-43')!.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const [container] = pod.containers;
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
    });
    expect(container.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '1', memory: '512Mi', 'ephemeral-storage': '1Gi' },
    });
    // A read-only root, but a writable /tmp.
    const tmp = pod.volumes.find((v: any) => v.name === 'tmp');
    expect(tmp.emptyDir.sizeLimit).toBeDefined();
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(container.env).toEqual([{ name: 'PORT', value: '3000' }]);

    const policy = server.get('networkpolicies', 'preview-task-43', 'task-43')!;
    expect(policy.metadata.labels['app.kubernetes.io/managed-by']).toBe('aiworker');
    expect(policy.spec.podSelector).toEqual({});
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 3000 }],
      },
    ]);
    const [dns, internet] = policy.spec.egress;
    expect(dns.to).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
        podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
      },
    ]);
    expect(dns.ports.map((p: any) => `${p.protocol}/${p.port}`).sort()).toEqual([
      'TCP/53',
      'UDP/53',
    ]);
    expect(internet.ports).toBeUndefined();
    const v4 = internet.to.find((p: any) => p.ipBlock.cidr === '0.0.0.0/0').ipBlock;
    expect(v4.except).toEqual(
      expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']),
    );
    expect(internet.to.find((p: any) => p.ipBlock.cidr === '::/0').ipBlock.except).toContain(
      'fc00::/7',
    );
  });

  it("uses the project's variables, resources and user, and the configured ingress namespaces", async () => {
    await runtime({ ingressNamespaceSelector: { 'team.example/ingress': 'yes' } }).deploy(
      spec('44', {
        config: {
          image: 'app',
          port: 8080,
          env: { GREETING: 'hello' },
          resources: { cpuLimit: '500m', memoryLimit: '1Gi' },
          runAsUser: 1000,
          readOnlyRootFilesystem: false,
        },
      }),
    );
    const pod = server.get('deployments', 'preview-task-44', 'task-44')!.spec.template.spec;
    const [container] = pod.containers;
    expect(container.env).toEqual([
      { name: 'GREETING', value: 'hello' },
      { name: 'PORT', value: '8080' },
    ]);
    expect(container.resources.limits).toMatchObject({ cpu: '500m', memory: '1Gi' });
    expect(container.resources.requests).toEqual({ cpu: '100m', memory: '128Mi' });
    expect(pod.securityContext.runAsUser).toBe(1000);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(false);
    const policy = server.get('networkpolicies', 'preview-task-44', 'task-44')!;
    expect(policy.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { 'team.example/ingress': 'yes' } } },
    ]);
    expect(policy.spec.ingress[0].ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
  });

  it('refuses root, invalid resources or variables before calling the API', async () => {
    for (const [config, message] of [
      [{ runAsUser: 0 }, /runAsUser/],
      [{ resources: { memoryLimit: 'lots' } }, /preview\.resources\.memoryLimit/],
      [{ env: { 'lower-case': 'x' } }, /preview\.env/],
      [{ env: { PORT: '1' } }, /preview\.env/],
    ] as const) {
      await expect(
        runtime().deploy(spec('45', { config: { image: 'app', port: 3000, ...config } as any })),
      ).rejects.toThrow(message);
    }
    expect(server.requests).toEqual([]);
  });

  it('uses the scheme and ingress class it is given', async () => {
    const info = await runtime({ scheme: 'http', ingressClassName: 'nginx' }).deploy(spec('7'));
    expect(info.url).toBe(`http://task-7.${DOMAIN}`);
    expect(server.get('ingresses', 'preview-task-7', 'task-7')!.spec.ingressClassName).toBe(
      'nginx',
    );
  });

  it('reuses a preview that already runs the commit, changing nothing', async () => {
    const rt = runtime();
    const first = await rt.deploy(spec('5'));
    const before = server.get('deployments', 'preview-task-5', 'task-5')!;
    const podsBefore = server.all('pods', 'preview-task-5').map((p) => p.metadata.name);
    server.requests.length = 0;
    server.setRollout({ delayMs: 5_000, outcome: 'ready' });

    const again = await rt.deploy(spec('5'));

    expect(again).toEqual(first);
    for (const kind of [
      'namespaces',
      'networkpolicies.networking.k8s.io',
      'deployments.apps',
      'services',
      'ingresses.networking.k8s.io',
    ]) {
      const i = calls().indexOf(`create ${kind}`);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(calls().indexOf(`patch ${kind}`)).toBeGreaterThan(i);
    }
    expect(server.requests.filter((r) => r.verb === 'patch').map((r) => r.contentType)).toEqual(
      Array(5).fill('application/merge-patch+json'),
    );
    const after = server.get('deployments', 'preview-task-5', 'task-5')!;
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(server.all('pods', 'preview-task-5').map((p) => p.metadata.name)).toEqual(podsBefore);
  });

  it('rolls a new commit out in place and waits for it', async () => {
    const rt = runtime();
    const first = await rt.deploy(spec('6'));
    const oldPods = server.all('pods', 'preview-task-6').map((p) => p.metadata.name);
    server.setRollout({ delayMs: 400, outcome: 'ready' });

    const started = Date.now();
    const second = await rt.deploy(spec('6', { commit: COMMIT_B }));

    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(second).toEqual({ ...first, commit: COMMIT_B });
    const deployment = server.get('deployments', 'preview-task-6', 'task-6')!;
    expect(deployment.metadata.generation).toBe(2);
    expect(deployment.spec.template.metadata.annotations['aiworker.dev/commit']).toBe(COMMIT_B);
    const pods = server.all('pods', 'preview-task-6');
    expect(pods).toHaveLength(1);
    expect(oldPods).not.toContain(pods[0]!.metadata.name);
    expect(pods[0]!.metadata.annotations['aiworker.dev/commit']).toBe(COMMIT_B);
    expect(
      server.get('namespaces', undefined, 'preview-task-6')!.metadata.annotations[
        'aiworker.dev/commit'
      ],
    ).toBe(COMMIT_B);
  });

  it("does not take the previous rollout's status for the new one", async () => {
    const rt = runtime();
    await rt.deploy(spec('8'));
    // The old status (1/1 available) stays until the controller observes generation 2.
    server.setObserveDelayMs(500);
    const started = Date.now();
    await rt.deploy(spec('8', { commit: COMMIT_B }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    const [pod] = server.all('pods', 'preview-task-8');
    expect(pod!.metadata.annotations['aiworker.dev/commit']).toBe(COMMIT_B);
  });

  it('takes over what an interrupted attempt left (409 AlreadyExists) and fixes it', async () => {
    const stale = spec('9');
    await createDirectly('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'preview-task-9',
        labels: { 'app.kubernetes.io/managed-by': 'aiworker' },
        annotations: { 'aiworker.dev/created-at': '2020-01-02T03:04:05.000Z' },
      },
    });
    await createDirectly('/api/v1/namespaces/preview-task-9/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'task-9' },
      spec: {
        selector: { 'app.kubernetes.io/name': 'task-9' },
        ports: [{ name: 'old', port: 8080, targetPort: 8080 }],
      },
    });

    const info = await runtime().deploy(stale);

    expect(calls().slice(0, 7)).toEqual([
      'create namespaces',
      'get namespaces',
      'patch namespaces',
      'create networkpolicies.networking.k8s.io',
      'create deployments.apps',
      'create services',
      'patch services',
    ]);
    expect(info.createdAt).toBe('2020-01-02T03:04:05.000Z');
    const service = server.get('services', 'preview-task-9', 'task-9')!;
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    expect(service.spec.clusterIP).toBeTruthy();
  });

  it('leaves alone a namespace of that name that it did not create', async () => {
    await createDirectly('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'preview-task-10' },
    });
    await expect(runtime().deploy(spec('10'))).rejects.toThrow(
      new PreviewFailed(
        'namespace preview-task-10 exists but is not labelled app.kubernetes.io/managed-by=aiworker; aiworker leaves it alone',
      ),
    );
    expect(calls()).not.toContain('patch namespaces');
  });

  it('waits through a slow rollout, reporting progress', async () => {
    server.setRollout({ delayMs: 600, outcome: 'ready' });
    const progress: string[] = [];
    const started = Date.now();
    const info = await runtime().deploy(spec('11'), (d) => progress.push(d));
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(info.url).toBe(`https://task-11.${DOMAIN}`);
    expect(
      progress.filter((p) => p.startsWith('rolling out preview-task-11')).length,
    ).toBeGreaterThan(3);
    expect(progress).toContain('rolling out preview-task-11: 1/1 updated, 0 available');
  });

  it.each([
    [
      { waiting: 'ImagePullBackOff', message: 'Back-off pulling image "x"' },
      /ImagePullBackOff: Back-off pulling image "x"/,
    ],
    [{ waiting: 'ErrImagePull' }, /ErrImagePull/],
    [{ waiting: 'CrashLoopBackOff' }, /CrashLoopBackOff \(last exit code 1\)/],
    [
      { waiting: 'CreateContainerConfigError', message: 'secret "db" not found' },
      /CreateContainerConfigError: secret "db" not found/,
    ],
    [{ exitCode: 2 }, /exited with code 2 \(Error\)/],
  ])('fails at once, naming the pod, when its pods fail with %j', async (outcome, reason) => {
    server.setRollout({ delayMs: 100, outcome });
    const started = Date.now();
    const err: unknown = await runtime()
      .deploy(spec('12'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreviewFailed);
    const [pod] = server.all('pods', 'preview-task-12');
    expect((err as Error).message).toContain(
      `preview task-12 cannot start: pod ${pod!.metadata.name}, container app:`,
    );
    expect((err as Error).message).toMatch(reason);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('does not blame the new commit for a failing pod of the previous one', async () => {
    const rt = runtime();
    server.setRollout({ delayMs: 0, outcome: { waiting: 'CrashLoopBackOff' } });
    await expect(rt.deploy(spec('13'))).rejects.toThrow(PreviewFailed);
    server.setRollout({ delayMs: 200, outcome: 'ready' });
    await expect(rt.deploy(spec('13', { commit: COMMIT_B }))).resolves.toMatchObject({
      commit: COMMIT_B,
    });
  });

  it('gives up at the deadline, saying where the rollout stands', async () => {
    server.setRollout({ delayMs: 0, outcome: 'hang' });
    const started = Date.now();
    const err: unknown = await runtime({ readyTimeoutMs: 1_000 })
      .deploy(spec('14'))
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(PreviewFailed);
    const [pod] = server.all('pods', 'preview-task-14');
    expect((err as Error).message).toBe(
      `preview task-14 was not ready after 1s: 1/1 updated, 0 available; pod ${pod!.metadata.name}: Pending (ContainerCreating)`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('refuses a project without an image or a port, before calling the API', async () => {
    const rt = runtime();
    await expect(rt.deploy(spec('15', { config: { port: 3000 } }))).rejects.toThrow(
      new PreviewFailed('the project has no preview image (preview.image)'),
    );
    await expect(rt.deploy(spec('15', { config: { image: 'app' } }))).rejects.toThrow(
      /no valid preview port/,
    );
    await expect(rt.deploy(spec('15', { name: 'Task_15' }))).rejects.toThrow(PreviewFailed);
    expect(server.requests).toEqual([]);
  });

  it('says which permission is missing when the API answers 403', async () => {
    server.forbid('create', 'deployments.apps');
    await expect(runtime().deploy(spec('16'))).rejects.toThrow(
      new PreviewFailed(
        'Kubernetes refused to create deployments.apps in namespace preview-task-16: the ' +
          `worker's service account needs "create" on "deployments" (API group "apps"), see ` +
          'k8s/rbac.yaml: deployments.apps is forbidden: User ' +
          '"system:serviceaccount:aiworker:aiworker-worker" cannot create resource "deployments" ' +
          'in API group "apps" in the namespace "preview-task-16"',
      ),
    );
    server.forbid('list', 'namespaces');
    await expect(runtime().list()).rejects.toThrow(/needs "list" on "namespaces" \(API group ""\)/);
  });

  it('throws a retryable error when the API server fails or cannot be reached', async () => {
    server.failNext(503);
    const unavailable: unknown = await runtime()
      .deploy(spec('17'))
      .catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(KubernetesTransient);
    expect(unavailable).not.toBeInstanceOf(PreviewFailed);
    expect((unavailable as Error).message).toMatch(/answered 503 \(create namespaces\)/);

    server.failNext(0);
    const dropped: unknown = await runtime()
      .list()
      .catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(KubernetesTransient);
    expect((dropped as Error).message).toMatch(/unreachable \(list namespaces\)/);

    // The retry succeeds.
    await expect(runtime().deploy(spec('17'))).resolves.toMatchObject({ name: 'task-17' });
  });

  it('throws a retryable error while a torn-down preview of the same name is still going', async () => {
    const rt = runtime();
    await rt.deploy(spec('18'));
    server.setNamespaceDeletionMs(60_000);
    await expect(rt.teardown('task-18')).resolves.toBe(true);
    const err: unknown = await rt.deploy(spec('18')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesTransient);
    expect((err as Error).message).toMatch(/preview-task-18 is still being deleted/);
  });
});

describe('teardown and list', () => {
  it('deletes the namespace with everything in it, and says false when there is none', async () => {
    const rt = runtime();
    await rt.deploy(spec('20'));
    await expect(rt.teardown('task-20')).resolves.toBe(true);
    expect(server.requests.at(-1)).toMatchObject({
      verb: 'delete',
      resource: 'namespaces',
      name: 'preview-task-20',
    });
    expect(server.get('namespaces', undefined, 'preview-task-20')).toBeUndefined();
    expect(server.all('deployments', 'preview-task-20')).toEqual([]);
    await expect(rt.teardown('task-20')).resolves.toBe(false);
    await expect(rt.teardown('task-never')).resolves.toBe(false);
  });

  it('counts a teardown already under way as done', async () => {
    const rt = runtime();
    await rt.deploy(spec('21'));
    server.setNamespaceDeletionMs(60_000);
    await expect(rt.teardown('task-21')).resolves.toBe(true);
    await expect(rt.teardown('task-21')).resolves.toBe(true);
    expect(calls().filter((c) => c === 'delete namespaces')).toHaveLength(1);
  });

  it('does not delete a namespace it did not create', async () => {
    await createDirectly('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'preview-task-22' },
    });
    await expect(runtime().teardown('task-22')).rejects.toThrow(PreviewFailed);
    expect(server.get('namespaces', undefined, 'preview-task-22')).toBeDefined();
  });

  it('lists the previews it manages, and only those', async () => {
    const rt = runtime();
    const a = await rt.deploy(spec('30'));
    const b = await rt.deploy({
      ...spec('31'),
      name: 'staging-proj-2',
      projectId: 'proj-2',
      taskId: null,
    });
    await rt.deploy(spec('32'));
    await createDirectly('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'preview-task-33' },
    });
    server.setNamespaceDeletionMs(60_000);
    await rt.teardown('task-32');

    const list = await rt.list();
    expect(list.sort((x, y) => x.name.localeCompare(y.name))).toEqual([b, a]);
    expect(b).toMatchObject({ taskId: null, url: `https://staging-proj-2.${DOMAIN}` });
    expect(
      server.requests.find((r) => r.verb === 'list' && r.resource === 'namespaces'),
    ).toBeDefined();
  });
});

describe('images', () => {
  it("tags the project's image with the branch, whatever tag it had", () => {
    expect(previewImage('app', 'task-1-feature')).toBe('app:task-1-feature');
    expect(previewImage('registry:5000/team/app:latest', 'feature/Login page')).toBe(
      'registry:5000/team/app:feature-Login-page',
    );
    expect(previewImage('ghcr.io/o/app', '-x.y')).toBe('ghcr.io/o/app:x.y');
    expect(() => previewImage('app@sha256:abc', 'main')).toThrow(PreviewFailed);
    expect(() => previewImage('app', '///')).toThrow(PreviewFailed);
  });
});

// Last in the file on purpose: jest runs a file's tests in order, so `seen` holds every request
// the tests above made.
describe('k8s/rbac.yaml', () => {
  it('grants every request the runtime made above, and nothing it never asks for', () => {
    const file = path.join(__dirname, '../../k8s/rbac.yaml');
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
    const role = docs.find((d) => d.kind === 'ClusterRole');
    const granted = new Set<string>(
      role.rules.flatMap((r: any) =>
        r.apiGroups.flatMap((g: string) =>
          r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${v} ${res} ${g}`)),
        ),
      ),
    );
    const used = new Set(seen.map((r) => `${r.verb} ${r.resource.split('.')[0]} ${r.group}`));
    expect([...used].sort()).toEqual([...granted].sort());
  });
});
