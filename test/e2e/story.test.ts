import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { createLocalRuntime } from '../../activities/preview/local';
import { stagingPreviewName, taskPreviewName } from '../../activities/preview/runtime';
import { gitDelivery } from '../../agent/git-work';
import { runReferenceAgent } from '../../agent/reference-agent';
import { startTestApi, testConfig } from '../support/api';
import type { TestApi } from '../support/api';
import { apiClient, createProject } from '../support/http';
import { startTestWorker, uniqueTaskQueue } from '../support/worker';
import { ensureWebBuilt, launchChromium } from './browser';
import { screenshotFile } from './screenshots';
import { localRepositoryUrl, seedWithFixtureApp } from '../support/git';

const LAST_SCREENS = path.join(os.tmpdir(), 'aiworker-e2e');
const WIDE = { width: 1680, height: 945 };

/** What the fixture app's page says (it shows message.txt). */
const messageOf = (html: string) => html.match(/<p id="message">(.*)<\/p>/)?.[1];

/**
 * One task from start to staging, with a person in a real headless Chromium and the reference
 * agent over MCP doing real git work: the project's repository holds the fixture app on staging,
 * previews and staging run as local processes. Nothing is driven behind the board's back: the
 * task is created, answered, approved and merged on the board.
 */
describe('a task from the board to staging', () => {
  const taskQueue = uniqueTaskQueue('story');
  const previews = createLocalRuntime({ previewsDir: path.join(testConfig().dataDir, 'previews') });
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const dirs: string[] = [];
  const stopAgent = new AbortController();
  let agentRun: Promise<unknown> | undefined;
  let projectId: string | undefined;
  let taskId: string | undefined;

  beforeAll(async () => {
    ensureWebBuilt();
    browser = await launchChromium();
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    context = await browser.newContext({ viewport: WIDE, deviceScaleFactor: 1 });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 180_000);
  afterAll(async () => {
    await page?.screenshot({ path: path.join(LAST_SCREENS, 'story.png') }).catch(() => undefined);
    stopAgent.abort();
    await agentRun?.catch(() => undefined);
    await browser?.close();
    // Previews run as local processes: the merge removes the task's; staging stays up until now.
    if (taskId) await previews.teardown(taskPreviewName(taskId));
    if (projectId) await previews.teardown(stagingPreviewName(projectId));
    await api?.close();
    await worker?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const visible = (locator: Locator, options: { timeout?: number } = {}) =>
    locator.first().waitFor({ state: 'visible', ...options });
  const card = (state: string, title: string) =>
    page.locator(`[data-column="${state}"] .card`, { hasText: title });
  const screenshot = async (name: string) => {
    await page.mouse.move(0, 0);
    await page.screenshot({
      path: screenshotFile(name),
      animations: 'disabled',
      // Toasts come and go on their own timers; the pictures are of the screens under them.
      style: '.toasts { display: none }',
    });
  };
  const tempDir = (tag: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `aiworker-story-${tag}-`));
    dirs.push(dir);
    return dir;
  };

  /** The project's repository starts with the fixture app on staging, as a real project would. */
  const seedRepository = (projectId: string) =>
    seedWithFixtureApp(localRepositoryUrl(projectId), tempDir('seed'));

  it('is created, answered, reviewed on its preview, approved and merged on the board', async () => {
    const project = await createProject(http, {
      name: `greeter-${randomBytes(2).toString('hex')}`,
      preview: {
        installCommand: 'npm install --no-audit --no-fund',
        startCommand: 'node server.js',
        healthPath: '/healthz',
      },
    });
    projectId = project.id as string;
    seedRepository(project.id);
    const registered = await http.post('/api/agents', { name: 'Ada', projectIds: [projectId] });
    expect(registered.status).toBe(201);

    // The person signs in and opens the project's board.
    await page.goto(api.url);
    await page.getByRole('button', { name: 'Use the admin token' }).click();
    await page.getByLabel('Admin token').fill(api.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('button', { name: 'Sign out' }));
    await page.goto(`${api.url}/projects/${projectId}`);
    await visible(page.getByRole('heading', { name: project.name, level: 1 }));
    await visible(page.locator('.live-live'));

    // A task, on the board.
    const title = 'Change the greeting';
    await page.getByRole('button', { name: 'New task' }).click();
    const form = page.getByRole('form', { name: 'New task' });
    await form.getByLabel('Title').fill(title);
    await form.getByLabel('Description').fill('The home page should greet people in our words.');
    await form.getByRole('button', { name: 'Add to backlog' }).click();
    await visible(card('backlog', title));

    // The reference agent takes it over MCP, asks, and delivers with real git once answered.
    const question = 'What should the greeting say?';
    const answer = `Welcome to the shop, ${randomBytes(3).toString('hex')}`;
    const workdir = tempDir('agent');
    agentRun = runReferenceAgent({
      url: api.url,
      token: registered.body.token,
      maxTasks: 1,
      waitSeconds: 10,
      signal: stopAgent.signal,
      question: () => question,
      work: gitDelivery({
        token: registered.body.token,
        workdir,
        edit: (dir, _task, said) => {
          writeFileSync(path.join(dir, 'message.txt'), `${said}\n`);
          return Promise.resolve('Change the greeting');
        },
      }),
    });

    // The question reaches the board live; the person answers it there.
    const asking = page.locator('.toast', { hasText: `“${title}” needs input` });
    await visible(asking.filter({ hasText: `Ada asks: ${question}` }));
    await visible(card('needs_input', title).locator('.badge', { hasText: 'needs input' }));
    await asking.getByRole('button', { name: 'Answer' }).click();
    const drawer = page.getByRole('dialog');
    await visible(drawer.locator('.question-text', { hasText: question }));
    taskId = page.url().split('/').pop()!;
    await drawer.getByLabel('Your answer').fill(answer);
    await drawer.getByRole('button', { name: 'Send answer' }).click();
    await visible(drawer.locator('.qa-answer', { hasText: answer }));

    // The agent pushes, opens the pull request and starts the preview: the card moves by itself.
    await drawer.getByRole('button', { name: 'Close' }).click();
    // (npm install and a healthy start of the branch come first.)
    await visible(card('ready_to_test', title).locator('.badge', { hasText: 'preview' }), {
      timeout: 120_000,
    });
    expect(await agentRun).toEqual([taskId]);

    // The review: the pull request's diff summary and the running preview of the branch.
    await card('ready_to_test', title).getByRole('link', { name: title }).click();
    await visible(drawer.locator('[data-state="ready_to_test"]'));
    const pull = drawer.getByRole('region', { name: 'Pull request' });
    await visible(pull.getByRole('heading', { name: /Pull request #1/ }));
    await visible(pull.getByText(`task-${taskId}-feature`));
    await visible(pull.getByText('1 file'));
    const changed = pull.locator('.files li');
    await expect(changed.allInnerTexts()).resolves.toEqual([
      expect.stringMatching(/message\.txt\s*\+1\s*−1/),
    ]);
    await visible(drawer.locator('.timeline', { hasText: 'Ada: pushed' }));
    const viewPreview = drawer.getByRole('link', { name: 'View preview' });
    await visible(viewPreview);
    await screenshot('review');

    const previewHref = (await viewPreview.getAttribute('href'))!;
    expect(messageOf(await (await fetch(previewHref)).text())).toBe(answer);
    const [previewTab] = await Promise.all([context.waitForEvent('page'), viewPreview.click()]);
    await previewTab.waitForLoadState();
    expect(await previewTab.locator('#message').textContent()).toBe(answer);
    await previewTab.close();

    // Approved on the board.
    await drawer.getByRole('button', { name: 'Approve' }).click();
    await visible(drawer.locator('[data-state="approved"]'));
    await drawer.getByRole('button', { name: 'Close' }).click();

    // Picked on the board and merged to staging; the board follows the merge to the end.
    await card('approved', title).getByRole('checkbox').check();
    await visible(page.getByText('1 approved task selected'));
    await page.getByRole('button', { name: 'Merge to staging' }).click();
    const merge = page.getByRole('region', { name: 'Merge to staging' });
    await visible(merge);
    await visible(merge.locator('.merge-state', { hasText: 'Merged and deployed' }), {
      timeout: 120_000,
    });
    await visible(merge.locator('li', { hasText: title }).locator('.result-deployed'));
    const stagingLink = merge.locator('.merge-deploy a');
    await visible(stagingLink);
    const stagingUrl = (await stagingLink.getAttribute('href'))!;
    expect(stagingUrl).toMatch(/^http:\/\//);
    expect(await stagingLink.textContent()).toBe(stagingUrl);
    await visible(card('staging', title));
    expect(await card('approved', title).count()).toBe(0);
    // Merged means the task preview is gone: the card no longer offers it.
    expect(await card('staging', title).locator('.badge-preview').count()).toBe(0);
    await screenshot('merge');

    // What the board says is live on staging is the agent's change.
    expect(messageOf(await (await fetch(stagingUrl)).text())).toBe(answer);
    const mergeId = (await http.get(`/api/merges?projectId=${projectId}`)).body.merges[0].id;
    const stored = (await http.get(`/api/merges/${mergeId}`)).body;
    expect(stored).toMatchObject({ state: 'completed', deployUrl: stagingUrl });
    expect(stored.tasks).toEqual([expect.objectContaining({ taskId, result: 'deployed' })]);
    expect((await http.get(`/api/tasks/${taskId}`)).body.state).toBe('staging');
    expect((await previews.list()).map((p) => p.name)).not.toContain(taskPreviewName(taskId));

    expect(pageErrors).toEqual([]);
  }, 300_000);
});
