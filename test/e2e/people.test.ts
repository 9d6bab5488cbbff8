import { randomUUID } from 'node:crypto';
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

const LAST_SCREENS = path.join(os.tmpdir(), 'aiworker-e2e');

/**
 * Two people on the board in Chromium, each signed in with their own password: a member who
 * creates, answers and approves, and a viewer who sees everything and can do none of it.
 */
describe('people on the board', () => {
  const taskQueue = uniqueTaskQueue('people-board');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let agent: Client;
  let projectId: string;
  const people: Record<'ana' | 'vic', { email: string; password: string }> = {} as never;

  beforeAll(async () => {
    ensureWebBuilt();
    browser = await launchChromium();
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    admin = apiClient(api.url, api.adminToken);
    projectId = (await createProject(admin, { name: `shop-${randomUUID().slice(0, 6)}` })).id;
    for (const [key, name, role] of [
      ['ana', 'Ana', 'member'],
      ['vic', 'Vic', 'viewer'],
    ] as const) {
      const email = `${key}-${randomUUID().slice(0, 8)}@example.com`;
      const res = await admin.post('/api/users', { email, name, role, projectIds: [projectId] });
      people[key] = { email, password: res.body.password };
    }
    const registered = await admin.post('/api/agents', {
      name: 'claude-1',
      projectIds: [projectId],
    });
    agent = await connectAgent(api.url, registered.body.token);
  }, 180_000);
  afterAll(async () => {
    await agent?.close();
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await api?.close();
    await worker?.stop();
  });
  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
  });

  const visible = (locator: Locator) => locator.first().waitFor({ state: 'visible' });
  const signIn = async (who: 'ana' | 'vic'): Promise<Page> => {
    const context = await browser.newContext({
      viewport: { width: 1680, height: 945 },
      deviceScaleFactor: 1,
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (err) => pageErrors.push(`${who}: ${err.message}`));
    await page.goto(`${api.url}/projects/${projectId}`);
    await page.getByLabel('Email').fill(people[who].email);
    await page.getByLabel('Password').fill(people[who].password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('button', { name: 'Sign out' }));
    await visible(page.locator('.live-live'));
    return page;
  };
  const card = (page: Page, state: string, title: string) =>
    page.locator(`[data-column="${state}"] .card`, { hasText: title });
  const openTask = async (page: Page, state: string, title: string) => {
    await card(page, state, title).getByRole('link', { name: title }).click();
    const drawer = page.getByRole('dialog');
    await visible(drawer.getByRole('heading', { name: title }));
    return drawer;
  };

  it('a member creates, answers and approves; a viewer sees it all and can act on nothing', async () => {
    const ana = await signIn('ana');
    const title = 'Fix the login page';
    await ana.getByRole('button', { name: 'New task' }).click();
    const form = ana.getByRole('form', { name: 'New task' });
    await form.getByLabel('Title').fill(title);
    await form.getByLabel('Description').fill('The button does nothing on phones.');
    await form.getByRole('button', { name: 'Add to backlog' }).click();
    await visible(card(ana, 'backlog', title));

    const taken = await callTool(agent, 'get_next_task', { projectId });
    const taskId: string = taken.data.task.id;
    const question = 'Which phones fail: all of them, or only iOS?';
    expect((await callTool(agent, 'ask_user_question', { taskId, question })).isError).toBe(false);

    // The viewer sees the question and the timeline, and nothing to act with.
    const vic = await signIn('vic');
    const vicDrawer = await openTask(vic, 'needs_input', title);
    await visible(vicDrawer.locator('.question-text', { hasText: question }));
    await visible(vicDrawer.locator('.timeline', { hasText: 'Ana created the task' }));
    expect(await vicDrawer.getByLabel('Your answer').count()).toBe(0);
    expect(await vic.getByRole('button', { name: 'New task' }).count()).toBe(0);

    // The member answers.
    const drawer = await openTask(ana, 'needs_input', title);
    await drawer.getByLabel('Your answer').fill('Only iOS Safari.');
    await drawer.getByRole('button', { name: 'Send answer' }).click();
    await visible(drawer.locator('[data-state="in_progress"]'));
    await visible(drawer.locator('.timeline', { hasText: 'Ana answered the question' }));
    await visible(drawer.locator('.timeline', { hasText: `claude-1 asked: ${question}` }));
    expect((await callTool(agent, 'check_response', { taskId })).data).toMatchObject({
      answered: true,
      answer: 'Only iOS Safari.',
    });

    // The agent hands its work in (as its tools do); the member approves it.
    const { assignedAgentId } = (await admin.get(`/api/tasks/${taskId}`)).body;
    await api.deps.temporal.client.workflow
      .getHandle(taskWorkflowId(taskId))
      .executeUpdate(submitForReviewUpdate, {
        args: [
          {
            agentId: assignedAgentId,
            previewUrl: 'http://127.0.0.1:9/preview',
            actor: { kind: 'agent', id: assignedAgentId, name: 'claude-1' },
          },
        ],
      });
    await visible(drawer.locator('[data-state="ready_to_test"]'));
    await drawer.getByRole('button', { name: 'Approve' }).click();
    await visible(drawer.locator('[data-state="approved"]'));
    await visible(drawer.locator('.timeline', { hasText: 'Ana approved' }));
    await ana.mouse.move(0, 0);
    await ana.screenshot({
      path: screenshotFile('timeline'),
      animations: 'disabled',
      style: '.toasts { display: none }',
    });

    // The viewer's board follows live, still with nothing to act with: no approve, no merge box.
    await visible(vicDrawer.locator('[data-state="approved"]'));
    await visible(vicDrawer.locator('.timeline', { hasText: 'Ana approved' }));
    expect(await vicDrawer.getByRole('button', { name: 'Request changes' }).count()).toBe(0);
    expect(await vicDrawer.getByRole('button', { name: 'Cancel task' }).count()).toBe(0);
    await vicDrawer.getByRole('button', { name: 'Close' }).click();
    expect(await card(vic, 'approved', title).locator('input[type="checkbox"]').count()).toBe(0);
    expect(await card(ana, 'approved', title).locator('input[type="checkbox"]').count()).toBe(1);
    await vic.screenshot({ path: path.join(LAST_SCREENS, 'people-viewer.png') });
  });

  it('a person makes and revokes a token; an administrator adds a person', async () => {
    const ana = await signIn('ana');
    await ana.getByRole('link', { name: 'Tokens' }).click();
    await visible(ana.getByRole('heading', { name: 'Personal access tokens' }));
    const form = ana.getByRole('form', { name: 'New token' });
    await form.getByLabel('Name').fill('ci');
    await form.getByRole('button', { name: 'Create token' }).click();
    const shown = ana.locator('code[aria-label="New token ci"]');
    await visible(shown);
    const token = await shown.innerText();
    expect(token).toMatch(/^awp_/);
    const asToken = apiClient(api.url, token);
    expect((await asToken.get('/api/session')).body.principal).toMatchObject({
      kind: 'user',
      name: 'Ana',
    });
    await ana.getByRole('button', { name: 'Revoke ci' }).click();
    await ana.getByRole('button', { name: 'Confirm revocation' }).click();
    await visible(ana.locator('tr', { hasText: 'ci' }).getByText(/revoked/));
    expect((await asToken.get('/api/session')).status).toBe(401);

    // The operator's token manages people; a member sees no People link.
    expect(await ana.getByRole('link', { name: 'People' }).count()).toBe(0);
    const context = await browser.newContext();
    contexts.push(context);
    const op = await context.newPage();
    op.on('pageerror', (err) => pageErrors.push(`operator: ${err.message}`));
    await op.goto(api.url);
    await op.getByRole('button', { name: 'Use the admin token' }).click();
    await op.getByLabel('Admin token').fill(api.adminToken);
    await op.getByRole('button', { name: 'Sign in' }).click();
    await op.getByRole('link', { name: 'People' }).click();
    await visible(op.getByRole('heading', { name: 'People', level: 1 }));
    const email = `lee-${randomUUID().slice(0, 8)}@example.com`;
    const add = op.getByRole('form', { name: 'Add a person' });
    await add.getByLabel('Email').fill(email);
    await add.getByLabel('Name').fill('Lee');
    await add.getByRole('button', { name: 'Add person' }).click();
    const password = await op.locator('code[aria-label="Initial password for Lee"]').innerText();
    await visible(op.locator('tr', { hasText: email }));
    const login = await fetch(`${api.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: api.url },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
  });
});
