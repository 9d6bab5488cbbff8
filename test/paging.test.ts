import { randomUUID } from 'node:crypto';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Walks a paged list route from the first page to the last; every id once, in order. */
async function walk(
  http: ReturnType<typeof apiClient>,
  path: string,
  field: string,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let after: string | null = null;
  do {
    const res = await http.get(after ? `${path}&after=${after}` : path);
    expect(res.status).toBe(200);
    pages += 1;
    ids.push(...res.body[field].map((item: { id: string }) => item.id));
    after = res.body.next;
  } while (after);
  return { ids, pages };
}

describe('list routes answer in pages', () => {
  const taskQueue = uniqueTaskQueue('paging');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let http: ReturnType<typeof apiClient>;
  let projectId: string;
  const created: string[] = [];

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
    http = apiClient(api.url, api.adminToken);
    projectId = (await createProject(http, { name: `paging-${randomUUID()}` })).id;
    // Ties in priority on purpose: the order within a priority is oldest first, then by id.
    for (const priority of [0, 5, 0, 5, -1, 0, 5]) {
      const res = await http.post('/api/tasks', {
        projectId,
        title: `p${priority}`,
        description: '',
        priority,
      });
      created.push(res.body.taskId);
    }
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
  });

  it('pages a project’s tasks in the order of the whole list, each task once', async () => {
    const whole = await http.get(`/api/tasks?projectId=${projectId}`);
    expect(whole.body.next).toBeNull();
    const order = whole.body.tasks.map((t: { id: string }) => t.id);
    expect([...order].sort()).toEqual([...created].sort());
    expect(whole.body.tasks.map((t: { priority: number }) => t.priority)).toEqual([
      5, 5, 5, 0, 0, 0, -1,
    ]);

    const paged = await walk(http, `/api/tasks?projectId=${projectId}&limit=3`, 'tasks');
    expect(paged.ids).toEqual(order);
    expect(paged.pages).toBe(3);
    // The same with a state filter, and across every project (this project's tasks keep their order).
    const backlog = await walk(
      http,
      `/api/tasks?projectId=${projectId}&state=backlog&limit=2`,
      'tasks',
    );
    expect(backlog.ids).toEqual(order);
    const first = await http.get(`/api/tasks?state=backlog&limit=1`);
    expect(first.body.tasks).toHaveLength(1);
    expect(first.body.next).toBe(first.body.tasks[0].id);
  });

  it('pages projects, oldest first, and merges, newest first', async () => {
    const more: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      more.push((await createProject(http, { name: `paging-${randomUUID()}` })).id);
    }
    const projects = await walk(http, '/api/projects?limit=2', 'projects');
    expect(new Set(projects.ids).size).toBe(projects.ids.length);
    const mine = projects.ids.filter((id) => [projectId, ...more].includes(id));
    expect(mine).toEqual([projectId, ...more]);

    // Merge batches are written by the merge workflow; rows stand in for them here.
    const merges = [0, 1, 2, 3, 4].map((i) => ({
      id: randomUUID(),
      projectId,
      state: 'completed' as const,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
    }));
    await api.deps.db.merge.createMany({ data: merges });
    const listed = await walk(http, `/api/merges?projectId=${projectId}&limit=2`, 'merges');
    expect(listed.ids).toEqual(merges.map((m) => m.id).reverse());
  });

  it('refuses bad paging with 400 and says why', async () => {
    const refusals: Array<[string, RegExp]> = [
      [`/api/tasks?projectId=${projectId}&limit=0`, /limit/],
      [`/api/tasks?projectId=${projectId}&limit=1001`, /limit: at most 1000/],
      [`/api/tasks?projectId=${projectId}&after=nope`, /after: expected a UUID/],
      [`/api/tasks?projectId=${projectId}&after=${randomUUID()}`, /after: there is no task/],
      [`/api/projects?after=${randomUUID()}`, /after: there is no project/],
      [`/api/projects?limit=501`, /limit: at most 500/],
      [`/api/merges?projectId=${projectId}&after=${randomUUID()}`, /has no merge/],
      [`/api/merges?projectId=${projectId}&limit=x`, /limit/],
    ];
    for (const [path, message] of refusals) {
      const res = await http.get(path);
      expect({ path, status: res.status, code: res.body.error.code }).toEqual({
        path,
        status: 400,
        code: 'validation_failed',
      });
      expect(res.body.error.message).toMatch(message);
    }
  });
});
