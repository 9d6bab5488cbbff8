import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes';
import {
  CONFIG_VARIABLES,
  loadConfig,
  NODE_ENV_VARS,
  NODE_FLAGS,
  REPO_ROOT,
} from '../platform/config';
import { AIWORKER_DYNAMIC_CONFIG } from '../scripts/lib/temporal-dev-server';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [key: string]: any;
};

function load(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Manifest;
  });
}

const K8S = path.join(REPO_ROOT, 'k8s');
const kustomization = load(path.join(K8S, 'kustomization.yaml'))[0]!;
const base = (kustomization.resources as string[]).flatMap((f) => load(path.join(K8S, f)));
const temporalDev = load(path.join(REPO_ROOT, 'temporal-dev.yaml'));
const find = (list: Manifest[], kind: string, name: string) => {
  const m = list.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name}`);
  return m;
};
const container = (d: Manifest) => d.spec.template.spec.containers[0];
/**
 * Kinds that live outside any namespace. kustomize 5.5 still stamps the namespace on the admission
 * policy kinds, which it does not know to be cluster-scoped; kubectl ignores it there.
 */
const CLUSTER_SCOPED = [
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
];

describe('k8s/ (kustomize base)', () => {
  it('replaces every worker of the old release before one of the new release runs', () => {
    expect(find(base, 'Deployment', 'aiworker-worker').spec.strategy).toEqual({
      type: 'Recreate',
    });
  });

  it('lists every manifest file in the folder, and only existing ones', () => {
    const yamlFiles = readdirSync(K8S).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
    );
    expect([...(kustomization.resources as string[])].sort()).toEqual(yamlFiles.sort());
  });

  it("has the api and worker Deployments, the api Service, config, and the worker's RBAC", () => {
    expect(base.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/aiworker-config',
        'ClusterRole/aiworker-worker',
        'ClusterRoleBinding/aiworker-worker',
        'Deployment/aiworker-api',
        'Deployment/aiworker-worker',
        'Job/aiworker-migrate',
        'Namespace/aiworker',
        'PersistentVolumeClaim/aiworker-data',
        'Secret/aiworker-admin-token',
        'Secret/aiworker-secrets',
        'Service/aiworker-api',
        'ServiceAccount/aiworker-worker',
        'ValidatingAdmissionPolicy/aiworker-worker-previews-only',
        'ValidatingAdmissionPolicyBinding/aiworker-worker-previews-only',
        'NetworkPolicy/aiworker-deny-ingress',
        'NetworkPolicy/aiworker-api-ingress',
        'NetworkPolicy/aiworker-worker-ingress',
      ].sort(),
    );
  });

  it('uses only environment variable names that the config module reads', () => {
    const config = find(base, 'ConfigMap', 'aiworker-config');
    const secrets = ['aiworker-secrets', 'aiworker-admin-token'].map((n) =>
      find(base, 'Secret', n),
    );
    const names = [
      ...Object.keys(config.data),
      ...secrets.flatMap((s) => Object.keys(s.stringData)),
    ];
    for (const name of names) expect(CONFIG_VARIABLES).toContain(name);
    for (const required of [
      'TEMPORAL_ADDRESS',
      'DATABASE_URL',
      'REDIS_URL',
      'AIWORKER_ADMIN_TOKEN',
      'PORT',
      'HOST',
    ]) {
      expect(names).toContain(required);
    }
    // Secrets live only in the Secret.
    for (const secretName of ['AIWORKER_ADMIN_TOKEN', 'DATABASE_URL'])
      expect(Object.keys(config.data)).not.toContain(secretName);
  });

  it('holds a ConfigMap the config module accepts, and placeholder secrets it refuses', () => {
    const config = find(base, 'ConfigMap', 'aiworker-config');
    const secret = find(base, 'Secret', 'aiworker-secrets');
    const token = find(base, 'Secret', 'aiworker-admin-token');
    expect(() => loadConfig({ ...config.data, ...secret.stringData, ...token.stringData })).toThrow(
      /AIWORKER_ADMIN_TOKEN/,
    );
    expect(() =>
      loadConfig({ ...config.data, ...secret.stringData, AIWORKER_ADMIN_TOKEN: 'x'.repeat(32) }),
    ).toThrow(/AIWORKER_METRICS_TOKEN/);
    const parsed = loadConfig({
      ...config.data,
      ...secret.stringData,
      AIWORKER_ADMIN_TOKEN: 'x'.repeat(32),
      AIWORKER_METRICS_TOKEN: 'y'.repeat(32),
    });
    expect(parsed.metricsToken).toBe('y'.repeat(32));
    expect(parsed.host).toBe('0.0.0.0');
    expect(parsed.temporal.devServer).toBe('off');
  });

  it('wires every process to the ConfigMap and the Secret and runs the right compiled entry point', () => {
    const shared = [
      { configMapRef: { name: 'aiworker-config' } },
      { secretRef: { name: 'aiworker-secrets' } },
    ];
    for (const [kind, name, entry, envFrom] of [
      [
        'Deployment',
        'aiworker-api',
        'dist/api/main.js',
        [...shared, { secretRef: { name: 'aiworker-admin-token' } }],
      ],
      ['Deployment', 'aiworker-worker', 'dist/worker/main.js', shared],
      ['Job', 'aiworker-migrate', 'dist/prisma/migrate.js', shared],
    ] as const) {
      const c = container(find(base, kind, name));
      // The compiled build (npm run build), never the sources through tsx.
      expect(c.command).toEqual(['node', ...NODE_FLAGS, entry]);
      expect(
        existsSync(path.join(REPO_ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'))),
      ).toBe(true);
      expect(c.envFrom).toEqual(envFrom);
      // The long-running processes start with the environment `npm start` gives them.
      if (kind === 'Deployment') {
        for (const [variable, value] of Object.entries(NODE_ENV_VARS)) {
          expect(c.env).toContainEqual({ name: variable, value });
        }
      }
    }
  });

  it('gives the admin token to the API only, never to the worker that runs previews', () => {
    const token = find(base, 'Secret', 'aiworker-admin-token');
    expect(Object.keys(token.stringData)).toEqual(['AIWORKER_ADMIN_TOKEN']);
    for (const m of base.filter((x) => x.kind === 'Secret' || x.kind === 'ConfigMap')) {
      if (m !== token)
        expect(Object.keys(m.stringData ?? m.data)).not.toContain('AIWORKER_ADMIN_TOKEN');
    }
    const worker = find(base, 'Deployment', 'aiworker-worker').spec.template.spec;
    const refs = JSON.stringify(worker);
    expect(refs).not.toContain('aiworker-admin-token');
    expect(refs).not.toContain('AIWORKER_ADMIN_TOKEN');
  });

  it('serves the api on the configured port, in the Service while the process answers', () => {
    const port = Number(find(base, 'ConfigMap', 'aiworker-config').data.PORT);
    const api = find(base, 'Deployment', 'aiworker-api');
    const c = container(api);
    expect(c.ports).toEqual([{ name: 'http', containerPort: port }]);
    // Not /readyz: with no worker (a worker rollout) every API would leave the Service, where
    // it should answer 503 not_ready itself.
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const service = find(base, 'Service', 'aiworker-api');
    expect(service.spec.selector).toEqual(api.spec.selector.matchLabels);
    expect(service.spec.ports[0].targetPort).toBe('http');
    for (const d of base.filter((m) => m.kind === 'Deployment')) {
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    }
  });

  it('shares one data folder between the API and the worker, writable by their uid', () => {
    const dataDir = find(base, 'ConfigMap', 'aiworker-config').data.AIWORKER_DATA_DIR;
    const claim = find(base, 'PersistentVolumeClaim', 'aiworker-data');
    expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
    for (const name of ['aiworker-api', 'aiworker-worker']) {
      const pod = find(base, 'Deployment', name).spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsUser: 1000, fsGroup: 1000 });
      const volume = pod.volumes.find(
        (v: { persistentVolumeClaim?: { claimName: string } }) =>
          v.persistentVolumeClaim?.claimName === 'aiworker-data',
      );
      expect(pod.containers[0].volumeMounts).toContainEqual({
        name: volume.name,
        mountPath: dataDir,
      });
    }
  });

  it('runs every container without privilege escalation or capabilities, under RuntimeDefault', () => {
    for (const m of base.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
      const pod = m.spec.template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
    // Previews run as Deployments of their own (the worker's RBAC), not in the worker's pod.
    expect(find(base, 'ConfigMap', 'aiworker-config').data.PREVIEW_RUNTIME).toBe('kubernetes');
  });

  it('lets connections into the namespace only on the ports its Deployments serve', () => {
    const policies = base.filter((m) => m.kind === 'NetworkPolicy');
    // Every pod refuses what no other policy lets in.
    expect(find(base, 'NetworkPolicy', 'aiworker-deny-ingress').spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress'],
    });
    // Each Deployment is opened on exactly the ports its container names, from anywhere: the API
    // authenticates every request, the worker's port serves probes and token-guarded metrics.
    for (const name of ['aiworker-api', 'aiworker-worker']) {
      const deployment = find(base, 'Deployment', name);
      const labels = deployment.spec.template.metadata.labels;
      const opening = policies.filter(
        (p) =>
          Object.keys(p.spec.podSelector.matchLabels ?? {}).length > 0 &&
          Object.entries(p.spec.podSelector.matchLabels).every(([k, v]) => labels[k] === v),
      );
      expect(opening.map((p) => p.metadata.name)).toEqual([`${name}-ingress`]);
      const named = (container(deployment).ports as Array<{ name: string }>).map((p) => p.name);
      expect(opening[0]!.spec.ingress).toEqual([
        { ports: named.map((port) => ({ protocol: 'TCP', port })) },
      ]);
    }
  });

  it('probes the worker on its health port: ready while it polls, alive while it answers', () => {
    const c = container(find(base, 'Deployment', 'aiworker-worker'));
    expect(c.env).toContainEqual({ name: 'WORKER_HEALTH_PORT', value: '9091' });
    expect(c.ports).toEqual([{ name: 'health', containerPort: 9091 }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
  });

  it('builds with kustomize when kubectl is installed', () => {
    const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (kubectl.error) {
      console.warn('kubectl is not installed: the kustomize build check did not run');
      return;
    }
    const out = execFileSync('kubectl', ['kustomize', K8S], { encoding: 'utf8' });
    const built = parseAllDocuments(out).map((d) => d.toJS() as Manifest);
    expect(built).toHaveLength(base.length);
    for (const m of built) {
      if (!CLUSTER_SCOPED.includes(m.kind)) expect((m.metadata as any).namespace).toBe('aiworker');
    }
    const binding = find(built, 'ClusterRoleBinding', 'aiworker-worker');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'aiworker-worker', namespace: 'aiworker' },
    ]);
  });
});

describe('k8s/rbac.yaml (what the worker may do in the cluster)', () => {
  const role = find(base, 'ClusterRole', 'aiworker-worker');
  const rules = role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  const namespace = find(base, 'Namespace', 'aiworker').metadata.name;

  it('binds the ClusterRole to the service account the worker Deployment runs as', () => {
    const worker = find(base, 'Deployment', 'aiworker-worker');
    const account = worker.spec.template.spec.serviceAccountName as string;
    expect(find(base, 'ServiceAccount', account)).toBeDefined();
    const binding = find(base, 'ClusterRoleBinding', 'aiworker-worker');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account, namespace }]);
    // The api runs as the namespace's default account, which has no rights.
    expect(find(base, 'Deployment', 'aiworker-api').spec.template.spec.serviceAccountName).toBe(
      undefined,
    );
  });

  it('grants no wildcard, no escalation path and no access to secrets', () => {
    for (const rule of rules) {
      for (const list of [rule.apiGroups, rule.resources, rule.verbs])
        expect(list).not.toContain('*');
      for (const verb of ['bind', 'impersonate', 'escalate', 'watch', 'deletecollection'])
        expect(rule.verbs).not.toContain(verb);
      for (const resource of ['secrets', 'roles', 'rolebindings', 'clusterroles', 'pods/exec'])
        expect(rule.resources).not.toContain(resource);
      expect(rule).not.toHaveProperty('nonResourceURLs');
    }
  });

  it('grants exactly what the Kubernetes preview runtime sends', () => {
    const grants = rules
      .flatMap((r) =>
        r.apiGroups.flatMap((g) =>
          r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g ? `${res}.${g}` : res}`)),
        ),
      )
      .sort();
    expect(grants).toEqual(
      [
        'create namespaces',
        'get namespaces',
        'list namespaces',
        'patch namespaces',
        'delete namespaces',
        'create deployments.apps',
        'get deployments.apps',
        'patch deployments.apps',
        'create services',
        'patch services',
        'create ingresses.networking.k8s.io',
        'patch ingresses.networking.k8s.io',
        'create networkpolicies.networking.k8s.io',
        'patch networkpolicies.networking.k8s.io',
        'list pods',
      ].sort(),
    );
  });

  it("lets the admission policy match the worker's account and bind with Deny", () => {
    const policy = find(base, 'ValidatingAdmissionPolicy', 'aiworker-worker-previews-only');
    const [condition] = policy.spec.matchConditions as { expression: string }[];
    expect(condition!.expression).toContain(`'system:serviceaccount:${namespace}:aiworker-worker'`);
    expect(policy.spec.failurePolicy).toBe('Fail');
    const ruled = (policy.spec.matchConstraints.resourceRules as any[]).flatMap(
      (r) => r.resources as string[],
    );
    for (const resource of [
      'namespaces',
      'deployments',
      'services',
      'ingresses',
      'networkpolicies',
    ])
      expect(ruled).toContain(resource);
    const binding = find(base, 'ValidatingAdmissionPolicyBinding', 'aiworker-worker-previews-only');
    expect(binding.spec).toEqual({
      policyName: policy.metadata.name,
      validationActions: ['Deny'],
    });
  });
});

describe('temporal-dev.yaml', () => {
  const deployment = find(temporalDev, 'Deployment', 'temporal-dev');
  const c = container(deployment);
  const args = c.args as string[];

  it('runs the dev server with its Web UI on a volume-backed SQLite file, one pod at a time', () => {
    expect(args.slice(0, 2)).toEqual(['server', 'start-dev']);
    expect(args).toEqual(
      expect.arrayContaining(['--ip=0.0.0.0', '--port=7233', '--ui-ip=0.0.0.0', '--ui-port=8233']),
    );
    const dbFile = args.find((a) => a.startsWith('--db-filename='))!.split('=')[1]!;
    const mount = c.volumeMounts.find((m: any) => dbFile.startsWith(`${m.mountPath}/`));
    expect(mount).toBeDefined();
    const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
    expect(
      find(temporalDev, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName),
    ).toBeDefined();
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
  });

  it("registers aiworker's search attributes", () => {
    for (const attr of SEARCH_ATTRIBUTES)
      expect(args).toContain(`--search-attribute=${attr.name}=${attr.type}`);
  });

  it('flags failing workflows as the dev server of `npm start` does', () => {
    for (const [key, value] of Object.entries(AIWORKER_DYNAMIC_CONFIG))
      expect(args).toContain(`--dynamic-config-value=${key}=${value}`);
  });

  it('runs without privilege escalation or capabilities, under RuntimeDefault', () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('answers only the pods of its own namespace: it asks no one for credentials', () => {
    const policy = find(temporalDev, 'NetworkPolicy', 'temporal-dev-ingress');
    expect(policy.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    // A bare podSelector in `from` means this namespace's pods; no namespaceSelector, no ipBlock.
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ podSelector: {} }],
        ports: (c.ports as Array<{ name: string }>).map((p) => ({ protocol: 'TCP', port: p.name })),
      },
    ]);
  });

  it('exposes gRPC 7233 and the UI 8233 on the Service the ConfigMap points at', () => {
    const service = find(temporalDev, 'Service', 'temporal-dev');
    expect(service.spec.ports.map((p: any) => [p.name, p.port])).toEqual([
      ['grpc', 7233],
      ['ui', 8233],
    ]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    const address = find(base, 'ConfigMap', 'aiworker-config').data.TEMPORAL_ADDRESS;
    expect(address).toBe(`${service.metadata.name}:7233`);
  });
});
