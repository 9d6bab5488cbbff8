import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { submitForReviewUpdate } from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import { startTestApi } from '../support/api';
import type { TestApi } from '../support/api';
import { apiClient, createProject } from '../support/http';
import { callTool, connectAgent } from '../support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from '../support/worker';
import { ensureWebBuilt, launchChromium } from './browser';
import { screenshotFile } from './screenshots';

/** Where each test's last screen is saved, to look at when one fails. */
const LAST_SCREENS = path.join(os.tmpdir(), 'aiworker-e2e');
const WIDE = { width: 1680, height: 945 };
const PHONE = { width: 390, height: 844 };

/**
 * The board in a real headless Chromium against the real stack: an in-process worker and API
 * (which serves web/dist), Temporal, MariaDB and Redis, and a real MCP agent on the other side.
 */
describe('the board in a browser', () => {
  const taskQueue = uniqueTaskQueue('board');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const agents: Client[] = [];

  beforeAll(async () => {
    ensureWebBuilt();
    browser = await launchChromium();
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await browser?.close();
    await api?.close();
    await worker?.stop();
  });

  beforeEach(async () => {
    context = await browser.newContext({ viewport: WIDE, deviceScaleFactor: 1 });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });
  afterEach(async () => {
    const name = (expect.getState().currentTestName ?? 'test').replace(/[^a-z0-9]+/gi, '-');
    await page.screenshot({ path: path.join(LAST_SCREENS, `${name}.png`) }).catch(() => undefined);
    await context.close();
    // An exception in the page is a bug even when the screen happened to look right.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  const suffix = () => randomBytes(2).toString('hex');
  const visible = (locator: Locator) => locator.first().waitFor({ state: 'visible' });
  const card = (state: string, title: string) =>
    page.locator(`[data-column="${state}"] .card`, { hasText: title });
  const toast = (text: string) => page.locator('.toast', { hasText: text });
  const screenshot = async (name: string, options: { toasts?: boolean } = {}) => {
    // No hover effect wherever the last click happened to leave the pointer.
    await page.mouse.move(0, 0);
    await page.screenshot({
      path: screenshotFile(name),
      animations: 'disabled',
      // Toasts that come and go on their own timers would make the picture differ run to run.
      ...(options.toasts === false ? { style: '.toasts { display: none }' } : {}),
    });
  };

  const signIn = async () => {
    await page.goto(api.url);
    await page.getByRole('button', { name: 'Use the admin token' }).click();
    await page.getByLabel('Admin token').fill(api.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('button', { name: 'Sign out' }));
    // `/` opens a project once the list has loaded (other tests create projects too); wait for
    // that, or for the first-project page, so nothing moves under the next click.
    // (Polled with evaluate: waitForFunction evaluates strings in a way the board's CSP forbids.)
    const settled = "location.pathname !== '/' || document.querySelector('.welcome') !== null";
    for (let i = 0; i < 200 && !(await page.evaluate(settled)); i += 1) {
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const newProject = async (name: string): Promise<string> => {
    await page.getByRole('button', { name: 'New project' }).click();
    // The header's form (the first-project page has another one below it).
    const form = page.getByRole('form', { name: 'New project' }).first();
    await form.getByLabel('Project name').fill(name);
    await form.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
    await visible(page.getByRole('heading', { name, level: 1 }));
    return page.url().split('/').pop()!;
  };
  const newTask = async (title: string, description: string, priority = 'Normal') => {
    await page.getByRole('button', { name: 'New task' }).click();
    const form = page.getByRole('form', { name: 'New task' });
    await form.getByLabel('Title').fill(title);
    await form.getByLabel('Description').fill(description);
    await form.getByLabel('Priority').selectOption({ label: priority });
    await form.getByRole('button', { name: 'Add to backlog' }).click();
    await visible(card('backlog', title));
  };
  const registerAgent = async (name: string, projectId: string) => {
    const { status, body } = await http.post('/api/agents', { name, projectIds: [projectId] });
    expect(status).toBe(201);
    const client = await connectAgent(api.url, body.token);
    agents.push(client);
    return { id: body.agentId as string, client };
  };
  const waitLive = () => visible(page.locator('.live-live'));
  /** Hands in an agent's work (branch, pull request, preview) the way the agent tools do. */
  const submitForReview = (taskId: string, agentId: string) =>
    api.deps.temporal.client.workflow
      .getHandle(taskWorkflowId(taskId))
      .executeUpdate(submitForReviewUpdate, {
        args: [
          {
            agentId,
            branch: `task-${taskId}-feature`,
            previewUrl: `http://127.0.0.1:9/preview/${taskId}`,
            prUrl: `http://127.0.0.1:9/pulls/${taskId}`,
          },
        ],
      });

  it('runs a task with an agent: live moves, a question toast, an answer, the agents view', async () => {
    await page.goto(api.url);
    await visible(page.getByRole('heading', { name: 'Sign in to the board' }));
    await screenshot('sign-in');
    await signIn();

    const projectId = await newProject(`webshop-${suffix()}`);
    await waitLive();
    const title = 'Add a login page';
    await newTask(title, 'Email and password sign-in, with a "remember me" box.', 'High');

    const ada = await registerAgent('Ada', projectId);
    const taken = await callTool(ada.client, 'get_next_task', { projectId });
    expect(taken.isError).toBe(false);
    expect(taken.data.task.title).toBe(title);
    const taskId: string = taken.data.task.id;
    await visible(card('in_progress', title));
    // The agent registered after the board loaded; its name comes with the live status.
    await visible(card('in_progress', title).locator('.agent', { hasText: 'Ada' }));

    // More work around it, for a board that looks like a working day: a second agent's task under
    // review (handed in straight to the workflow, as the agent tools do), and a backlog.
    const grace = await registerAgent('Grace', projectId);
    await http.post('/api/tasks', { projectId, title: 'Show prices with tax', description: '' });
    const review = await callTool(grace.client, 'get_next_task', { projectId });
    await submitForReview(review.data.task.id, grace.id);
    for (const [t, priority] of [
      ['Fix rounding in the cart total', 100],
      ['Password reset by email', 0],
      ['Dark mode for the shop', -10],
    ] as const) {
      await http.post('/api/tasks', { projectId, title: t, description: '', priority });
    }
    await visible(card('backlog', 'Dark mode for the shop'));
    await visible(card('ready_to_test', 'Show prices with tax'));

    const question = 'Should people sign in with their email address or a user name?';
    const asked = await callTool(ada.client, 'ask_user_question', { taskId, question });
    expect(asked.isError).toBe(false);
    await visible(card('needs_input', title).locator('.badge', { hasText: 'needs input' }));
    const needsInput = toast(`“${title}” needs input`);
    await visible(needsInput.filter({ hasText: `Ada asks: ${question}` }));
    await screenshot('board');

    await needsInput.getByRole('button', { name: 'Answer' }).click();
    const drawer = page.getByRole('dialog');
    await visible(drawer.getByRole('heading', { name: title }));
    await visible(drawer.locator('.question-text', { hasText: question }));
    await visible(drawer.locator('[data-state="needs_input"]'));
    await screenshot('task-question');

    await drawer.getByLabel('Your answer').fill('Email address; no user names.');
    await drawer.getByRole('button', { name: 'Send answer' }).click();
    await visible(drawer.locator('[data-state="in_progress"]'));
    await visible(drawer.locator('.qa-answer', { hasText: 'Email address; no user names.' }));
    await visible(drawer.locator('.timeline', { hasText: 'administrator answered the question' }));
    await visible(card('in_progress', title));
    expect(await card('needs_input', title).count()).toBe(0);
    const answer = await callTool(ada.client, 'check_response', { taskId });
    expect(answer.data).toMatchObject({ answered: true, answer: 'Email address; no user names.' });

    await drawer.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('link', { name: 'Agents' }).click();
    const row = page.locator('tr', { hasText: 'Ada' });
    await visible(row.locator('.status-working'));
    await visible(row.getByRole('link', { name: title }));
    const graceRow = page.locator('tr', { hasText: 'Grace' });
    await visible(graceRow.getByText('waiting for review'));
    await visible(graceRow.getByRole('link', { name: 'Show prices with tax' }));
    await screenshot('agents', { toasts: false });

    await page.setViewportSize(PHONE);
    await page.getByRole('link', { name: 'Board' }).click();
    await visible(card('in_progress', title));
    // Columns stack at phone width instead of running off the side.
    const backlog = (await page.locator('[data-column="backlog"]').boundingBox())!;
    const inProgress = (await page.locator('[data-column="in_progress"]').boundingBox())!;
    expect(inProgress.y).toBeGreaterThan(backlog.y + backlog.height - 1);
    expect(inProgress.x).toBe(backlog.x);
    expect(backlog.width).toBeLessThanOrEqual(PHONE.width);
    await screenshot('narrow', { toasts: false });
  }, 120_000);

  it("shows the API's errors in words", async () => {
    await page.goto(api.url);
    await page.getByRole('button', { name: 'Use the admin token' }).click();
    await page.getByLabel('Admin token').fill('not-the-admin-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('alert').filter({ hasText: 'does not accept this token' }));

    // A kept token the server no longer takes (the admin token was changed): back to sign-in.
    // (A string, since this runs in the page, where the test's Node types do not apply.)
    await page.evaluate("localStorage.setItem('aiworker.token', 'an-old-admin-token')");
    await page.reload();
    await visible(page.getByRole('status').filter({ hasText: 'no longer accepts your token' }));

    await signIn();
    await newProject(`errors-${suffix()}`);
    await page.getByRole('button', { name: 'New task' }).click();
    const form = page.getByRole('form', { name: 'New task' });
    await form.getByRole('button', { name: 'Add to backlog' }).click();
    await visible(
      form.getByRole('alert').filter({
        hasText: 'Could not create the task: invalid body: title: must not be empty',
      }),
    );

    // A project name that is taken: the API's 409 message, next to the form.
    const taken = `taken-${suffix()}`;
    expect((await http.post('/api/projects', { name: taken })).status).toBe(201);
    await page.getByRole('button', { name: 'New project' }).click();
    const projectForm = page.getByRole('form', { name: 'New project' });
    await projectForm.getByLabel('Project name').fill(taken);
    await projectForm.getByRole('button', { name: 'Create project' }).click();
    await visible(
      projectForm.getByRole('alert').filter({ hasText: 'Could not create the project:' }),
    );

    await page.getByRole('button', { name: 'Sign out' }).click();
    await visible(page.getByRole('heading', { name: 'Sign in to the board' }));
    expect(await page.evaluate("localStorage.getItem('aiworker.token')")).toBeNull();
  }, 60_000);

  it('signs a person in with email and password, live on their projects only, until they sign out', async () => {
    const mine = (await createProject(http, { name: `mine-${suffix()}` })).id;
    const others = (await createProject(http, { name: `others-${suffix()}` })).id;
    const email = `ana-${suffix()}@example.com`;
    const { password } = (
      await http.post('/api/users', { email, name: 'Ana', role: 'member', projectIds: [mine] })
    ).body;

    await page.goto(api.url);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }));
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('button', { name: 'Sign out' }));
    // The session is an httpOnly cookie: nothing of it in the page's reach.
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.evaluate("localStorage.getItem('aiworker.token')")).toBeNull();
    await page.waitForURL(new RegExp(`/projects/${mine}$`));
    const options = await page
      .locator('select option')
      .evaluateAll((o) => o.map((e) => (e as { value: string }).value));
    expect(options).not.toContain(others);

    // She creates a task on the board; an agent takes it, and the board shows it live.
    const title = `by ana ${suffix()}`;
    await newTask(title, 'made by a member');
    await waitLive();
    const agent = await registerAgent('Ada', mine);
    await callTool(agent.client, 'get_next_task', { projectId: mine });
    await visible(card('in_progress', title));

    // A reload keeps her signed in; signing out ends the session on the server.
    await page.reload();
    await visible(page.getByRole('button', { name: 'Sign out' }));
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'aiworker_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await visible(page.getByRole('heading', { name: 'Sign in to the board' }));
    const after = await fetch(`${api.url}/api/session`, {
      headers: { cookie: `aiworker_session=${session.value}` },
    });
    expect(after.status).toBe(401);
    await page.reload();
    await visible(page.getByRole('heading', { name: 'Sign in to the board' }));
  }, 60_000);

  it('approves a task under review and starts a merge to staging', async () => {
    await signIn();
    const projectId = await newProject(`review-${suffix()}`);
    await waitLive();
    const title = 'Show prices with tax';
    await newTask(title, 'Prices on the product page include VAT.');
    const hedy = await registerAgent('Hedy', projectId);
    const { data } = await callTool(hedy.client, 'get_next_task', { projectId });
    const taskId: string = data.task.id;
    await submitForReview(taskId, hedy.id);
    await visible(card('ready_to_test', title).locator('.badge', { hasText: 'preview' }));
    await visible(toast(`“${title}” is ready to test`));

    await card('ready_to_test', title).getByRole('link', { name: title }).click();
    const drawer = page.getByRole('dialog');
    await visible(drawer.getByRole('link', { name: 'View preview' }));
    expect(await drawer.getByRole('link', { name: 'View preview' }).getAttribute('href')).toBe(
      `http://127.0.0.1:9/preview/${taskId}`,
    );
    await visible(drawer.getByText(`task-${taskId}-feature`));
    // Only what the state allows: no answer box for a task under review.
    expect(await drawer.getByLabel('Your answer').count()).toBe(0);
    await drawer.getByRole('button', { name: 'Approve' }).click();
    await visible(drawer.locator('[data-state="approved"]'));
    expect(await drawer.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await drawer.getByRole('button', { name: 'Close' }).click();

    await card('approved', title).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Merge to staging' }).click();
    // Whatever the merge route answers is what the person sees.
    const probe = await http.post('/api/merge', { taskIds: [] });
    if (probe.status === 404 && probe.body?.error?.message?.startsWith('no route')) {
      await visible(
        toast('Could not start the merge').filter({ hasText: probe.body.error.message }),
      );
    } else {
      await visible(page.getByRole('region', { name: 'Merge to staging' }));
    }
  }, 90_000);

  it('catches up on what happened while the connection was lost', async () => {
    await signIn();
    const projectId = await newProject(`offline-${suffix()}`);
    await waitLive();
    const title = 'Translate the checkout';
    await newTask(title, 'German and French.');
    const linus = await registerAgent('Linus', projectId);
    const { data } = await callTool(linus.client, 'get_next_task', { projectId });
    await visible(card('in_progress', title));

    await context.setOffline(true);
    api.server.io.disconnectSockets(true);
    await visible(page.locator('.live-offline'));
    const question = 'Formal or informal German?';
    await callTool(linus.client, 'ask_user_question', { taskId: data.task.id, question });

    await context.setOffline(false);
    await waitLive();
    // The toast comes only from the replayed event; a refetch alone would not show it.
    await visible(toast(`“${title}” needs input`).filter({ hasText: question }));
    await visible(card('needs_input', title));
    expect(await toast(`“${title}” needs input`).count()).toBe(1);

    // Answered elsewhere (another person, another tab): the toast goes, the card moves back.
    const answered = await http.post(`/api/tasks/${data.task.id}/respond`, { answer: 'Formal.' });
    expect(answered.status).toBe(200);
    await toast(`“${title}” needs input`).waitFor({ state: 'detached' });
    await visible(card('in_progress', title));
  }, 90_000);
});
