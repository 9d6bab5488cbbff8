import { migrate } from '../prisma/migrator';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient } from './support/http';
import { dropDatabase, scratchDatabaseUrl } from './support/scratch-db';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/**
 * The first administrator on a fresh install: a database of its own, where nobody has an
 * account yet (the run's shared database has the other tests' people).
 */
describe('the first administrator', () => {
  const taskQueue = uniqueTaskQueue('first-admin');
  const databaseUrl = scratchDatabaseUrl('first_admin');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    await migrate(databaseUrl);
    worker = await startTestWorker({ taskQueue, databaseUrl });
    api = await startTestApi({ taskQueue, databaseUrl });
    admin = apiClient(api.url, api.adminToken);
  });
  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await dropDatabase(databaseUrl);
  });

  const claim = (body: unknown) =>
    fetch(`${api.url}/api/auth/first-admin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('comes from a one-time link that works only while nobody has an account', async () => {
    // The request takes no body: anything in one is refused, not ignored.
    const odd = await admin.post('/api/users/first-admin-link', { email: 'ana@example.com' });
    expect(odd.status).toBe(400);
    expect(odd.body.error).toMatchObject({ code: 'validation_failed' });
    const link = await admin.post('/api/users/first-admin-link', {});
    expect(link.status).toBe(201);
    expect(link.body.url).toMatch(new RegExp(`^${api.url}/#first-admin=[\\w-]{43}$`));
    const token = (link.body.url as string).split('=')[1]!;

    const wrong = await claim({ token: 'x'.repeat(43), email: 'ana@example.com', name: 'Ana' });
    expect(wrong.status).toBe(400);
    const bad = await claim({ token, email: 'not an email', name: 'Ana' });
    expect(bad.status).toBe(400);

    const made = await claim({ token, email: 'Ana@Example.com', name: 'Ana' });
    expect(made.status).toBe(201);
    const body = (await made.json()) as { user: { role: string; email: string }; password: string };
    expect(body.user).toMatchObject({ role: 'admin', email: 'ana@example.com' });
    expect(body.password).toMatch(/^[\w-]{20}$/);
    const cookie = made.headers.get('set-cookie')!.split(';')[0]!;
    const session = await fetch(`${api.url}/api/session`, { headers: { cookie } });
    expect(((await session.json()) as { principal: unknown }).principal).toMatchObject({
      kind: 'user',
      role: 'admin',
    });

    // Once: the same link again, or a new link now that someone exists, is refused.
    const again = await claim({ token, email: 'eve@example.com', name: 'Eve' });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(
      /this sign-in link was used or has expired/,
    );
    const another = await admin.post('/api/users/first-admin-link', {});
    expect(another.status).toBe(409);
    expect(await api.deps.db.user.count()).toBe(1);
  });
});
