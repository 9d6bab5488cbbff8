// The Argo CD deployer over real HTTP, against the Argo CD test server (test/servers). The server
// moves an application on at each GET, so small poll intervals keep these fast without racing.
import { randomBytes } from 'node:crypto';
import { freePort } from '../../test/support/free-port';
import { startArgoCdTestServer } from '../../test/servers/argocd-server';
import type { ArgoCdAppBehaviour, ArgoCdTestServer } from '../../test/servers/argocd-server';
import { createArgoCdDeployer } from './argocd';
import type { ArgoCdDeployerOptions } from './argocd';
import { DeployFailed, DeployRefused } from './deployer';

const commit = () => randomBytes(20).toString('hex');

let argo: ArgoCdTestServer;
beforeEach(async () => {
  argo = await startArgoCdTestServer();
});
afterEach(async () => {
  await argo.close();
});

/** A deployer for project `shop` (application `shop-staging`), polling fast, with a generous deadline. */
function deployer(options: Partial<ArgoCdDeployerOptions> = {}) {
  return createArgoCdDeployer({
    baseUrl: argo.url,
    token: argo.token,
    application: (projectId) => `${projectId}-staging`,
    pollMs: 10,
    timeoutMs: 15_000,
    ...options,
  });
}

/** Deploys `sha` of project `shop` and keeps what progress() was told. */
function deploy(sha: string, options: Partial<ArgoCdDeployerOptions> = {}) {
  const seen: string[] = [];
  const run = deployer(options).deploy({
    projectId: 'shop',
    commit: sha,
    progress: (detail) => seen.push(detail),
  });
  return { run, seen };
}

function addShop(behaviour: Partial<ArgoCdAppBehaviour> = {}) {
  argo.addApplication('shop-staging', behaviour);
}

describe('Argo CD staging deployer', () => {
  test('syncs the application to the commit and resolves once it is Synced and Healthy', async () => {
    addShop({ externalURLs: ['https://staging.shop.example/', 'https://admin.shop.example/'] });
    const sha = commit();
    const { run, seen } = deploy(sha);

    await expect(run).resolves.toEqual({
      environment: 'staging',
      url: 'https://staging.shop.example/',
    });
    expect(argo.syncRequests('shop-staging')).toEqual([
      { name: 'shop-staging', revision: sha, prune: true },
    ]);
    expect(argo.requests.every((r) => r.authorization === `Bearer ${argo.token}`)).toBe(true);
    const status = argo.application('shop-staging').status as any;
    expect(status.sync).toMatchObject({ status: 'Synced', revision: sha });
    expect(status.health.status).toBe('Healthy');
    expect(seen.some((s) => s.includes('health Progressing'))).toBe(true);
    expect(seen.at(-1)).toContain(`sync Synced at ${sha.slice(0, 7)}, health Healthy`);
  });

  test('reports the configured URL and environment over the external URLs', async () => {
    addShop({ externalURLs: ['https://staging.shop.example/'] });
    const { run } = deploy(commit(), { url: 'https://shop.example/staging', environment: 'qa' });
    await expect(run).resolves.toEqual({ environment: 'qa', url: 'https://shop.example/staging' });
  });

  test('has no URL when neither the options nor the application name one', async () => {
    addShop();
    const { run } = deploy(commit());
    await expect(run).resolves.toEqual({ environment: 'staging', url: null });
  });

  test('waits for an application that is slow to become healthy', async () => {
    addShop({ operationPolls: 3, progressingMs: 400 });
    const started = Date.now();
    const { run, seen } = deploy(commit());

    await expect(run).resolves.toMatchObject({ environment: 'staging' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(seen.filter((s) => s.includes('operation Running')).length).toBeGreaterThanOrEqual(2);
    expect(seen.filter((s) => s.includes('health Progressing')).length).toBeGreaterThan(2);
  });

  test('a rollout that goes Degraded after the sync fails the deploy, naming the resource', async () => {
    addShop({ outcome: 'degraded', progressingPolls: 2 });
    const sha = commit();
    const { run } = deploy(sha);

    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployFailed);
    expect((err as Error).message).toBe(
      `Argo CD application "shop-staging" is Degraded after syncing ${sha.slice(0, 7)}: ` +
        'Deployment shop-staging/web is Degraded (Deployment "web" exceeded its progress deadline)',
    );
  });

  test('health from before the sync finished decides nothing: stale Healthy, then Degraded', async () => {
    // The application was Healthy at its previous commit; for two looks after the operation
    // Argo CD has not reconciled yet (reconciledAt < finishedAt) and still says Healthy.
    addShop({ outcome: 'degraded', staleHealthPolls: 2 });
    const { run, seen } = deploy(commit());

    await expect(run).rejects.toThrow(DeployFailed);
    expect(seen.some((s) => s.includes('health Healthy'))).toBe(true);
  });

  test('a failed sync operation fails the deploy with the operation message and resource', async () => {
    addShop({ outcome: 'sync-failed', operationPolls: 2 });
    const sha = commit();
    const { run } = deploy(sha);

    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployFailed);
    const message = (err as Error).message;
    expect(message).toContain(
      `Argo CD sync of application "shop-staging" to ${sha.slice(0, 7)} failed`,
    );
    expect(message).toContain('one or more objects failed to apply');
    expect(message).toContain('Deployment shop-staging/web: Deployment.apps "web" is invalid');
  });

  test('the deadline fails the deploy with the last health and sync seen', async () => {
    addShop({ outcome: 'stuck' });
    const started = Date.now();
    const { run } = deploy(commit(), { timeoutMs: 1000, pollMs: 20 });

    const err = await run.catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(err).toBeInstanceOf(DeployFailed);
    expect((err as Error).message).toBe(
      'Argo CD application "shop-staging" not healthy after 1 s: health Progressing, sync Synced',
    );
  });

  test('a wrong token is refused as a configuration problem, without the token in the message', async () => {
    addShop();
    const token = `wrong-${randomBytes(8).toString('hex')}`;
    const { run, seen } = deploy(commit(), { token });

    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployRefused);
    expect(err).toMatchObject({ status: 401 });
    expect((err as Error).message).toContain('rejected the API token');
    expect((err as Error).message).toContain('invalid session: token signature is invalid');
    expect((err as Error).message).not.toContain(token);
    expect(seen.join('\n')).not.toContain(token);
    expect(argo.syncRequests()).toEqual([]);
  });

  test('an unknown application is refused: 404, and the 403 Argo CD answers to hide it', async () => {
    const { run } = deploy(commit());
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployRefused);
    expect(err).toMatchObject({ status: 404 });
    expect((err as Error).message).toBe(
      'Argo CD has no application "shop-staging" (HTTP 404: applications.argoproj.io "shop-staging" not found); ' +
        'create it, or fix the Argo CD application configured for project shop',
    );

    argo.hideUnknownApplications();
    const hidden = await deploy(commit()).run.catch((e: unknown) => e);
    expect(hidden).toBeInstanceOf(DeployRefused);
    expect(hidden).toMatchObject({ status: 403 });
    expect((hidden as Error).message).toContain('check that the application exists');
  });

  test('an application with automated sync is refused with what to change', async () => {
    addShop({ automated: true });
    const { run } = deploy(commit());
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployRefused);
    expect((err as Error).message).toContain('auto-sync currently set to staging');
    expect((err as Error).message).toContain('turn off its automated sync policy');
  });

  test('transient 5xx and slow answers are retried within the poll loop', async () => {
    addShop();
    argo.failNext(2, 503);
    const first = deploy(commit());
    await expect(first.run).resolves.toMatchObject({ environment: 'staging' });
    expect(first.seen.filter((s) => s.includes('HTTP 503') && s.endsWith('retrying'))).toHaveLength(
      2,
    );

    argo.failNext(1, 500);
    const second = deploy(commit());
    await expect(second.run).resolves.toMatchObject({ environment: 'staging' });
    expect(second.seen[0]).toContain('HTTP 500: error getting cached app state');

    argo.delayNext(1, 1000);
    const third = deploy(commit(), { requestTimeoutMs: 200 });
    await expect(third.run).resolves.toMatchObject({ environment: 'staging' });
    expect(third.seen[0]).toContain('timed out');
  });

  test('Argo CD unreachable until the deadline is a retryable error, not a failed deploy', async () => {
    const port = await freePort();
    const { run } = deploy(commit(), { baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 });
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(DeployFailed);
    expect(err).not.toBeInstanceOf(DeployRefused);
    expect((err as Error).message).toMatch(
      /did not answer GET \/api\/v1\/applications\/shop-staging: ECONNREFUSED/,
    );
  });

  test('the token never shows, even where a failing layer echoes it', async () => {
    addShop();
    let calls = 0;
    const echoing: typeof fetch = async (input, init) => {
      if (calls++ === 0) {
        const authorization = new Headers(init?.headers).get('authorization');
        throw new TypeError('fetch failed', { cause: new Error(`refused ${authorization}`) });
      }
      return await fetch(input, init);
    };
    const { run, seen } = deploy(commit(), { fetch: echoing });
    await expect(run).resolves.toMatchObject({ environment: 'staging' });
    expect(seen[0]).toContain('refused Bearer [redacted]');
    expect(seen.join('\n')).not.toContain(argo.token);
  });

  test('waits for another running operation to finish, then syncs the commit', async () => {
    addShop();
    const other = commit();
    argo.startOperation('shop-staging', other, 3);
    const sha = commit();
    const { run, seen } = deploy(sha);

    await expect(run).resolves.toMatchObject({ environment: 'staging' });
    expect(seen[0]).toContain(
      `waiting for the running operation (sync to ${other.slice(0, 7)}) to finish`,
    );
    expect(argo.syncRequests().map((b) => b.revision)).toEqual([sha]);
    expect((argo.application('shop-staging').status as any).sync.revision).toBe(sha);
  });

  test('"another operation is already in progress" on sync: waits for it, then syncs again', async () => {
    addShop();
    argo.raceNextSync('shop-staging', commit());
    const sha = commit();
    const { run, seen } = deploy(sha);

    await expect(run).resolves.toMatchObject({ environment: 'staging' });
    expect(seen[0]).toContain('another operation is already in progress');
    expect(argo.syncRequests().map((b) => b.revision)).toEqual([sha, sha]);
    expect((argo.application('shop-staging').status as any).sync.revision).toBe(sha);
  });

  test('a running operation that already targets the commit is adopted, not synced again', async () => {
    addShop();
    const sha = commit();
    argo.raceNextSync('shop-staging', sha);
    const { run } = deploy(sha);

    await expect(run).resolves.toMatchObject({ environment: 'staging' });
    expect(argo.syncRequests()).toHaveLength(1);
    expect((argo.application('shop-staging').status as any).sync.revision).toBe(sha);
  });

  test('a deploy of a commit that is already Synced and Healthy sends no sync', async () => {
    addShop();
    const sha = commit();
    await deploy(sha).run;
    expect(argo.syncRequests()).toHaveLength(1);

    await expect(deploy(sha).run).resolves.toMatchObject({ environment: 'staging' });
    expect(argo.syncRequests()).toHaveLength(1);
  });
});
