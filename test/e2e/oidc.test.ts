import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ConflictError } from '../../api/errors';
import { tokenHash } from '../../api/middleware/auth';
import { changeUserAccount } from '../../api/people/people';
import { REPO_ROOT } from '../../platform/config';
import { startTestApi } from '../support/api';
import type { TestApi } from '../support/api';
import { freePort } from '../support/free-port';
import { apiClient, wholeAudit } from '../support/http';
import { startTestWorker, uniqueTaskQueue } from '../support/worker';
import { ensureWebBuilt, launchChromium } from './browser';

/** The OpenID provider of test/servers/oidc-provider.mjs, as a process of its own. */
async function startProvider(redirectUri: string) {
  const port = await freePort();
  const clientId = 'aiworker-board';
  const clientSecret = randomBytes(24).toString('hex');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'test/servers/oidc-provider.mjs'),
      String(port),
      clientId,
      clientSecret,
      redirectUri,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('provider listening')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`provider exited with ${code}:\n${output}`)));
  });
  return {
    settings: { issuer: `http://127.0.0.1:${port}`, clientId, clientSecret },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Sign-in with OpenID Connect against a real provider (`oidc-provider`), in a real browser: the
 * board's single-sign-on button, the provider's login and consent pages, and back to the board.
 */
describe('signing in with OpenID Connect', () => {
  const taskQueue = uniqueTaskQueue('oidc');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let provider: Awaited<ReturnType<typeof startProvider>>;
  let browser: Browser;
  let page: Page;
  let email: string;

  beforeAll(async () => {
    ensureWebBuilt();
    browser = await launchChromium();
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    provider = await startProvider(`${api.url}/api/auth/oidc/callback`);
    api.deps.oidc = provider.settings;
    email = `ana-${randomBytes(3).toString('hex')}@example.com`;
    const admin = apiClient(api.url, api.adminToken);
    const created = await admin.post('/api/users', { email, name: 'Ana', role: 'viewer' });
    expect(created.status).toBe(201);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await provider?.stop();
    await api?.close();
    await worker?.stop();
  });

  /** The callback URLs the browser was sent to, latest last. */
  const callbacks: string[] = [];
  async function throughProvider(login: string): Promise<void> {
    const context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('request', (r) => {
      if (r.url().includes('/api/auth/oidc/callback')) callbacks.push(r.url());
    });
    await page.goto(api.url);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    // The provider's own pages: any login and password, then consent.
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]', { hasText: 'Continue' }).click();
  }

  it('signs a person with an account in, into a board session', async () => {
    await throughProvider(email);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const cookies = await page.context().cookies(api.url);
    const session = cookies.find((c) => c.name === 'aiworker_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    const me = await fetch(`${api.url}/api/session`, {
      headers: { cookie: `aiworker_session=${session!.value}` },
    });
    expect(((await me.json()) as { principal: unknown }).principal).toMatchObject({
      kind: 'user',
      email,
      role: 'viewer',
    });
    await page.context().close();
  }, 60_000);

  it('refuses someone the provider knows but aiworker does not, and a replayed answer', async () => {
    await throughProvider(`stranger-${randomBytes(3).toString('hex')}@example.com`);
    // The browser is back on the sign-in page, which says why.
    await page
      .getByRole('alert')
      .filter({ hasText: 'Single sign-on did not work: there is no aiworker account for' })
      .waitFor();
    await page.getByRole('heading', { name: 'Sign in to the board' }).waitFor();
    // The provider's answer (its code and state) used a second time.
    const replay = await fetch(callbacks[callbacks.length - 1]!);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('this sign-in expired or was already used');
    await page.context().close();

    const forged = await fetch(`${api.url}/api/auth/oidc/callback?state=made-up&code=x`);
    expect(forged.status).toBe(400);
  }, 60_000);

  it('ties an account to the provider’s subject: another subject with the same email is refused', async () => {
    // Ana signed in above: her account is tied to her subject (her plain login).
    await throughProvider(`someone-else|${email}`);
    await page
      .getByRole('alert')
      .filter({ hasText: 'signs in as another person of the provider' })
      .waitFor();
    await page.context().close();
    // Her own subject still signs her in.
    await throughProvider(email);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.context().close();
    const audit = await wholeAudit(apiClient(api.url, api.adminToken));
    const linked = (audit as Array<{ action: string; actor: { name: string } }>).filter(
      (e) => e.action === 'user.linked_to_single_sign_on',
    );
    expect(linked).toEqual([
      expect.objectContaining({ actor: expect.objectContaining({ name: 'Ana' }) }),
    ]);
  }, 60_000);

  it('refuses an answer started in another browser (login CSRF)', async () => {
    // A sign-in started elsewhere: its pending record names the starting browser's cookie.
    const state = `state-${randomBytes(6).toString('hex')}`;
    const starter = randomBytes(32).toString('base64url');
    await api.deps.redis.set(
      `oidc:pending:${state}`,
      JSON.stringify({ verifier: 'v', nonce: 'n', browser: tokenHash(starter) }),
      'EX',
      60,
    );
    const victim = await fetch(`${api.url}/api/auth/oidc/callback?state=${state}&code=c`, {
      headers: { cookie: `aiworker_oidc=${randomBytes(32).toString('base64url')}` },
      redirect: 'manual',
    });
    expect(victim.status).toBe(403);
    expect(victim.headers.get('set-cookie')).toBeNull();
    expect(await victim.text()).toContain('this sign-in was started in another browser');
  });

  /** A sign-in started as a browser would: the provider's authorization URL and the browser's cookie. */
  async function startSignIn(): Promise<{ authorize: URL; state: string; cookie: string }> {
    const res = await fetch(`${api.url}/api/auth/oidc/start`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const authorize = new URL(res.headers.get('location')!);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    return { authorize, state: authorize.searchParams.get('state')!, cookie };
  }
  /** What the sign-in page is told after a callback, as a browser coming back sees it. */
  async function boardIsTold(query: string, cookie?: string): Promise<string> {
    const res = await fetch(`${api.url}/api/auth/oidc/callback?${query}`, {
      headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) },
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location).toMatch(/^\/#sign-in-error=/);
    return decodeURIComponent(location.replace('/#sign-in-error=', ''));
  }

  it('puts none of a crafted callback’s words on the sign-in page', async () => {
    const lure = encodeURIComponent('Your account is locked: call +1 555 0100 to unlock it');
    // No sign-in of this browser behind it: the state is made up, or missing.
    for (const query of [
      `state=made-up&error=access_denied&error_description=${lure}`,
      `error=access_denied&error_description=${lure}`,
      `state=made-up&error=${lure}`,
    ]) {
      const told = await boardIsTold(query);
      expect(told).not.toMatch(/locked|555|access_denied/);
      expect(told).toMatch(
        /this sign-in expired or was already used|expected the provider’s state/,
      );
    }
    // A real sign-in of this browser the provider answers with an error (prompt=none, nobody
    // signed in at the provider): the board names the standard code, never the description.
    const started = await startSignIn();
    started.authorize.searchParams.set('prompt', 'none');
    const answer = await fetch(started.authorize, { redirect: 'manual' });
    const back = new URL(answer.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(back.searchParams.get('error_description')).toBeTruthy();
    const told = await boardIsTold(back.search.slice(1), started.cookie);
    expect(told).toBe(
      'the sign-in provider refused to sign you in (login_required); start again from the board',
    );
    // With a valid state, an error that is no standard code is not named either.
    const other = await startSignIn();
    expect(
      await boardIsTold(
        `state=${other.state}&error=${lure}&error_description=${lure}`,
        other.cookie,
      ),
    ).toBe('the sign-in provider refused to sign you in; start again from the board');
  }, 30_000);

  /** Ties an account to a provider subject as its first sign-in would, through the workflow. */
  const link = (userId: string, subject: string) =>
    changeUserAccount(api.deps, {
      action: 'link',
      userId,
      issuer: provider.settings.issuer,
      subject,
      actor: { kind: 'user', id: userId, name: 'Pat' },
    });
  const addPerson = async (address: string): Promise<string> => {
    const res = await apiClient(api.url, api.adminToken).post('/api/users', {
      email: address,
      name: 'Pat',
      role: 'viewer',
    });
    expect(res.status).toBe(201);
    return res.body.user.id as string;
  };

  it('refuses, at once and saying why, an identity tied to a removed account', async () => {
    // Pat signed in when the provider showed their old address; that account was removed and
    // Pat was added again under the address the provider shows now.
    const tag = randomBytes(3).toString('hex');
    const newEmail = `pat-${tag}@example.com`;
    const login = `pat-${tag}|${newEmail}`;
    const removed = await addPerson(`pat-old-${tag}@example.com`);
    await link(removed, login);
    expect((await apiClient(api.url, api.adminToken).del(`/api/users/${removed}`)).status).toBe(
      200,
    );
    const added = await addPerson(newEmail);
    const began = Date.now();
    await throughProvider(login);
    await page
      .getByRole('alert')
      .filter({ hasText: 'is tied to an aiworker account that was removed: ask an administrator' })
      .waitFor();
    expect(Date.now() - began).toBeLessThan(8_000);
    await page.context().close();
    // Pat's new account was not tied to the subject the removed one still holds.
    const row = await api.deps.db.user.findUniqueOrThrow({ where: { id: added } });
    expect(row.oidcSubject).toBeNull();

    // An administrator unties the removed account on the board's People page, then once more
    // through the API (which changes nothing), and Pat's next sign-in ties the new account and
    // lets Pat in.
    const admin = apiClient(api.url, api.adminToken);
    const listed = async () => (await admin.get(`/api/users/${removed}`)).body;
    expect(await listed()).toMatchObject({ singleSignOn: true, disabledAt: expect.any(String) });
    const operator = await (await browser.newContext()).newPage();
    operator.setDefaultTimeout(20_000);
    await operator.goto(api.url);
    await operator.getByRole('button', { name: 'Use the admin token' }).click();
    await operator.getByLabel('Admin token').fill(api.adminToken);
    await operator.getByRole('button', { name: 'Sign in' }).click();
    await operator.getByRole('link', { name: 'People' }).click();
    await operator.getByText(/^Removed accounts/).click();
    const untie = operator.getByRole('button', {
      name: `Untie the single sign-on of pat-old-${tag}@example.com`,
    });
    await untie.click();
    const question = operator.getByText(/^Untie this account from Pat/);
    await question.waitFor();
    await operator.getByRole('button', { name: 'Untie', exact: true }).click();
    // The question closes once the list shows the account untied, which has no button then.
    await question.waitFor({ state: 'detached' });
    expect(await untie.count()).toBe(0);
    await operator.context().close();
    expect(await listed()).toMatchObject({ singleSignOn: false, disabledAt: expect.any(String) });
    const again = await admin.del(`/api/users/${removed}/oidc`);
    expect(again.status).toBe(200);
    expect(again.body.user).toMatchObject({ id: removed, singleSignOn: false });
    expect((await admin.del(`/api/users/${randomUUID()}/oidc`)).status).toBe(404);
    await throughProvider(login);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.context().close();
    expect((await api.deps.db.user.findUniqueOrThrow({ where: { id: added } })).oidcSubject).toBe(
      login,
    );
    const unlinks = (
      (await wholeAudit(admin)) as Array<{ action: string; detail?: { userId?: string } }>
    ).filter(
      (e) => e.action === 'user.unlinked_from_single_sign_on' && e.detail?.userId === removed,
    );
    expect(unlinks).toHaveLength(1);
  }, 60_000);

  it('refuses an identity that differs only in letter case from one tied to another account', async () => {
    const tag = randomBytes(3).toString('hex');
    const email = `kim-${tag}@example.com`;
    const other = await addPerson(`kai-${tag}@example.com`);
    await link(other, `KIM-${tag}|${email}`);
    await addPerson(email);
    await throughProvider(`kim-${tag}|${email}`);
    await page
      .getByRole('alert')
      .filter({
        hasText: 'matches one tied to another aiworker account (aiworker does not tell letter case',
      })
      .waitFor();
    await page.context().close();
  }, 60_000);

  it('never retries tying a subject another account holds: the change fails at once', async () => {
    // What a race between two first sign-ins comes to: the API's check saw the subject free.
    const tag = randomBytes(3).toString('hex');
    const holder = await addPerson(`lee-${tag}@example.com`);
    await link(holder, `lee-${tag}`);
    const second = await addPerson(`lee-2-${tag}@example.com`);
    const began = Date.now();
    const failed = await link(second, `LEE-${tag}`).catch((err: unknown) => err);
    expect(Date.now() - began).toBeLessThan(3_000);
    // The workflow failed with the non-retryable OIDC_SUBJECT_TAKEN (in under 3 s: never
    // retried), which the API answers 409.
    expect(failed).toBeInstanceOf(ConflictError);
    expect((failed as ConflictError).status).toBe(409);
  }, 60_000);

  it('says so when sign-in with OpenID Connect is not configured', async () => {
    const settings = api.deps.oidc;
    api.deps.oidc = null;
    try {
      const res = await fetch(`${api.url}/api/auth/oidc/start`, { redirect: 'manual' });
      expect(res.status).toBe(404);
      expect(await (await fetch(`${api.url}/api/auth/methods`)).json()).toEqual({
        password: true,
        oidc: false,
      });
    } finally {
      api.deps.oidc = settings;
    }
  });
});
