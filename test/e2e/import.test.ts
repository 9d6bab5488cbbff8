import { randomBytes } from 'node:crypto';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestApi } from '../support/api';
import type { TestApi } from '../support/api';
import { apiClient, createProject } from '../support/http';
import { startTestWorker, uniqueTaskQueue } from '../support/worker';
import { ensureWebBuilt, launchChromium } from './browser';

/** The board's "Import tasks" in a real headless Chromium against the real stack. */
describe('importing tasks on the board', () => {
  const taskQueue = uniqueTaskQueue('import');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ensureWebBuilt();
    browser = await launchChromium();
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await worker?.stop();
  });
  afterEach(() => {
    // An exception in the page is a bug even when the screen happened to look right.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  const visible = (locator: Locator) => locator.first().waitFor({ state: 'visible' });
  const card = (title: string) => page.locator('[data-column="backlog"] .card', { hasText: title });

  it('reads pasted CSV, shows what is wrong, and imports the rows once fixed', async () => {
    const name = `import-${randomBytes(2).toString('hex')}`;
    const projectId = (await createProject(apiClient(api.url, api.adminToken), { name })).id;
    await page.goto(`${api.url}/projects/${projectId}`);
    await page.getByRole('button', { name: 'Use the admin token' }).click();
    await page.getByLabel('Admin token').fill(api.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await visible(page.getByRole('heading', { name, level: 1 }));

    await page.getByRole('button', { name: 'Import tasks' }).click();
    const form = page.getByRole('form', { name: 'Import tasks' });
    const rows = [
      'title,description,priority',
      'Add login,"Email and password, with a ""remember me"" box",10',
      ',no title here,0',
      'Dark mode,,-10',
    ];
    await form.getByLabel('Tasks').fill(rows.join('\n'));
    await visible(form.getByRole('status').filter({ hasText: '2 tasks read, 1 problem' }));
    await visible(form.getByRole('alert').filter({ hasText: 'line 3: the title is empty' }));
    expect(await form.getByRole('button', { name: /^Import/ }).isDisabled()).toBe(true);

    rows[2] = 'Password reset,by email,0';
    await form.getByLabel('Tasks').fill(rows.join('\n'));
    await visible(form.getByRole('status').filter({ hasText: '3 tasks read' }));
    await form.getByRole('button', { name: 'Import 3 tasks' }).click();
    await visible(page.locator('.toast', { hasText: 'Imported 3 tasks' }));
    for (const title of ['Add login', 'Password reset', 'Dark mode']) await visible(card(title));
    expect(await form.count()).toBe(0);

    const tasks = await api.deps.db.task.findMany({
      where: { projectId },
      select: { title: true, description: true, priority: true },
      orderBy: { priority: 'desc' },
    });
    expect(tasks).toEqual([
      {
        title: 'Add login',
        description: 'Email and password, with a "remember me" box',
        priority: 10,
      },
      { title: 'Password reset', description: 'by email', priority: 0 },
      { title: 'Dark mode', description: '', priority: -10 },
    ]);
  });
});
