import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalRuntime } from '../activities/preview/local';
import { taskPreviewName } from '../activities/preview/runtime';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { git, gitAsync, localRepositoryUrl, seedWithFixtureApp } from './support/git';
import { apiClient, createProject } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { uniqueTaskQueue } from './support/worker';
import { WorkerProcess } from './support/worker-process';

/**
 * Every live process of a preview in `dir`, with its group and command: those whose working
 * folder is `dir` or inside it (a sandbox's outer process), and all their descendants (inside a
 * sandbox, whose working folder reads /app from here).
 */
function processesIn(dir: string): Array<{ pid: number; pgid: number; command: string }> {
  const all = new Map<number, { ppid: number; pgid: number; cwd: string; command: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command's closing parenthesis: state, ppid, pgrp, ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      all.set(Number(entry), {
        ppid: Number(fields[1]),
        pgid: Number(fields[2]),
        cwd: readlinkSync(`/proc/${entry}/cwd`),
        command: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim(),
      });
    } catch {
      // The process ended while we looked.
    }
  }
  const inDir = (pid: number): boolean => {
    const p = all.get(pid);
    if (!p) return false;
    return p.cwd === dir || p.cwd.startsWith(`${dir}/`) || inDir(p.ppid);
  };
  return [...all]
    .filter(([pid]) => inDir(pid))
    .map(([pid, p]) => ({ pid, pgid: p.pgid, command: p.command }));
}

/**
 * A worker killed (SIGKILL) while it deploys a preview: the deploy is retried on the restarted
 * worker, and the task ends with exactly one running preview serving the branch, with nothing
 * left of the interrupted attempt.
 */
describe('a preview deployment through a worker kill', () => {
  const taskQueue = uniqueTaskQueue('preview-kill');
  const worker = new WorkerProcess({ TEMPORAL_TASK_QUEUE: taskQueue });
  const previewsDir = path.join(process.env.AIWORKER_DATA_DIR!, 'previews');
  const previews = createLocalRuntime({ previewsDir });
  let api: TestApi;
  let taskId: string | undefined;

  beforeAll(async () => {
    await worker.start();
    api = await startTestApi({ taskQueue });
  }, 120_000);
  afterAll(async () => {
    if (taskId) await previews.teardown(taskPreviewName(taskId));
    await worker.stop();
    await api.close();
  });

  it('ends with exactly one running preview for the task', async () => {
    const http = apiClient(api.url, api.adminToken);
    const project = await createProject(http, {
      name: `preview-kill-${randomUUID()}`,
      // A slow install, so the worker can be killed while it runs.
      preview: {
        installCommand: 'sleep 4',
        startCommand: 'node server.js',
        healthPath: '/healthz',
      },
    });
    const seed = mkdtempSync(path.join(os.tmpdir(), 'aiworker-preview-kill-'));
    const repo = seedWithFixtureApp(localRepositoryUrl(project.id), seed);

    const { body: agent } = await http.post('/api/agents', {
      name: 'previewer',
      projectIds: [project.id],
    });
    taskId = (
      await http.post('/api/tasks', { projectId: project.id, title: 'Kill me', description: 'd' })
    ).body.taskId as string;
    const client = await connectAgent(api.url, agent.token);
    try {
      expect((await callTool(client, 'get_next_task', {})).data.task.id).toBe(taskId);
      const branch = await callTool(client, 'create_branch', { taskId });
      expect(branch.isError).toBe(false);
      // The agent works through the git gateway with its own token.
      git(repo, 'remote', 'set-url', 'origin', branch.data.cloneUrl);
      git(repo, 'config', 'http.extraHeader', `Authorization: Bearer ${agent.token}`);
      await gitAsync(repo, 'fetch', '--quiet', 'origin');
      git(repo, 'checkout', '--quiet', '-B', branch.data.branch, `origin/${branch.data.branch}`);
      const message = `survived ${randomUUID()}`;
      writeFileSync(path.join(repo, 'message.txt'), `${message}\n`);
      git(repo, 'add', 'message.txt');
      git(repo, 'commit', '--quiet', '-m', 'the message');
      await gitAsync(repo, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch.data.branch}`);
      expect((await callTool(client, 'create_pr', { taskId })).isError).toBe(false);

      // The agent asks for its preview; the worker dies while the install runs.
      const dir = path.join(previewsDir, taskPreviewName(taskId));
      // A deploy that outlasts one call goes on; calling again waits for the same one.
      const preview = (async () => {
        for (;;) {
          const answer = await client.callTool({ name: 'trigger_preview', arguments: { taskId } });
          if ((answer.structuredContent as { status?: string })?.status !== 'deploying')
            return answer;
        }
      })();
      const installing = Date.now() + 60_000;
      while (!existsSync(path.join(dir, 'install.json'))) {
        if (Date.now() > installing) throw new Error('the preview install never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      await worker.kill();
      await worker.start();

      const result = await preview;
      expect(result.isError).not.toBe(true);
      const { previewUrl } = result.structuredContent as { previewUrl: string };
      expect(await (await fetch(previewUrl)).text()).toContain(message);

      // One preview for the task, one process group behind it, no install left over.
      const listed = (await previews.list()).filter((p) => p.name === taskPreviewName(taskId!));
      expect(listed).toHaveLength(1);
      expect(listed[0]!.url).toBe(previewUrl);
      const procs = processesIn(path.join(dir, 'app'));
      expect(procs.some((p) => p.command.endsWith('node server.js'))).toBe(true);
      expect(new Set(procs.map((p) => p.pgid)).size).toBe(1);
      expect(procs.filter((p) => p.command.startsWith('sleep'))).toEqual([]);
      expect(existsSync(path.join(dir, 'install.json'))).toBe(false);
      expect((await http.get(`/api/tasks/${taskId}`)).body).toMatchObject({
        state: 'ready_to_test',
        previewUrl,
      });
    } finally {
      await client.close();
    }
  }, 300_000);
});
