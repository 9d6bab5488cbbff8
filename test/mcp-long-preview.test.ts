import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { createLocalRuntime } from '../activities/preview/local';
import { taskPreviewName } from '../activities/preview/runtime';
import { createPullRequestUpdate, TRANSITION_REFUSED } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { REPO_ROOT } from '../platform/config';
import { executeTaskUpdate } from '../platform/task-updates';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { git, gitAsync, localRepositoryUrl, seedWithFixtureApp } from './support/git';
import { apiClient, createProject } from './support/http';
import { callTool, connectAgent } from './support/mcp-agent';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** How long the preview's install runs: longer than any client's default timeout. */
const INSTALL_SECONDS = 180;

/**
 * A `trigger_preview` whose deploy takes three minutes, called as an agent would with the SDK's
 * default timeouts (60 s, not reset by progress) and asking for progress: directly over
 * Streamable HTTP, and through the stdio relay. Each call answers within the timeout, with
 * progress on the way, `deploying` until the deploy is done; the calls after the first wait for
 * the same deploy; the last answer is the preview that serves.
 */
describe('a three-minute preview deploy through MCP with default client timeouts', () => {
  const taskQueue = uniqueTaskQueue('long-preview');
  const previews = createLocalRuntime({
    previewsDir: path.join(process.env.AIWORKER_DATA_DIR!, 'previews'),
  });
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  const taskIds: string[] = [];
  const clients: Array<{ agent: { agentId: string; token: string }; client: Client }> = [];

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map(({ client }) => client.close()));
    for (const id of taskIds) await previews.teardown(taskPreviewName(id));
    await api.close();
    await worker.stop();
  });

  it('answers "deploying" within the timeout, with progress, until the one deploy serves', async () => {
    const board = apiClient(api.url, api.adminToken);
    const project = await createProject(board, {
      name: `long-preview-${randomUUID()}`,
      preview: {
        installCommand: `sleep ${INSTALL_SECONDS}`,
        startCommand: 'node server.js',
        healthPath: '/healthz',
      },
    });
    const seed = mkdtempSync(path.join(os.tmpdir(), 'aiworker-long-preview-'));
    seedWithFixtureApp(localRepositoryUrl(project.id), seed);
    const register = async (name: string) =>
      (await board.post('/api/agents', { name, projectIds: [project.id] })).body as {
        agentId: string;
        token: string;
      };
    const direct = await register('direct');
    const relayed = await register('relayed');
    clients.push(
      { agent: direct, client: await connectAgent(api.url, direct.token) },
      {
        agent: relayed,
        client: await (async () => {
          const client = new Client({ name: 'relayed-agent', version: '0.0.0' });
          await client.connect(
            new StdioClientTransport({
              command: path.join(REPO_ROOT, 'bin', 'aiworker-mcp'),
              env: {
                PATH: process.env.PATH!,
                AIWORKER_URL: api.url,
                AIWORKER_AGENT_TOKEN: relayed.token,
              },
              stderr: 'ignore',
            }),
          );
          return client;
        })(),
      },
    );
    for (let i = 0; i < clients.length; i += 1) {
      taskIds.push(
        (
          await board.post('/api/tasks', {
            projectId: project.id,
            title: `long ${i}`,
            description: 'd',
          })
        ).body.taskId,
      );
    }

    /**
     * Another delivery step sent while the deploy runs is refused at once, not waited for: the
     * refusal names the running step in its details as well as in its message.
     */
    const refusedWhileDeploying = async (agentId: string, client: Client, taskId: string) => {
      const refusal = await executeTaskUpdate(
        api.deps.temporal.client.workflow.getHandle(taskWorkflowId(taskId)),
        createPullRequestUpdate,
        { agentId },
      ).then(
        () => null,
        (err: unknown) => err,
      );
      expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (refusal as WorkflowUpdateFailedError).cause as ApplicationFailure;
      expect(cause).toMatchObject({
        type: TRANSITION_REFUSED,
        message: `task ${taskId} is busy with trigger_preview; wait for it to finish before create_pr`,
        details: [{ busyWith: 'trigger_preview' }],
      });
      expect(await callTool(client, 'create_pr', { taskId })).toMatchObject({
        isError: true,
        text: expect.stringContaining('is busy with trigger_preview'),
      });
    };

    const outcomes = await Promise.all(
      clients.map(async ({ agent, client }) => {
        const taskId = (await callTool(client, 'get_next_task', {})).data.task.id as string;
        const branch = await callTool(client, 'create_branch', { taskId });
        const work = mkdtempSync(path.join(os.tmpdir(), 'aiworker-long-preview-work-'));
        const repo = path.join(work, 'repo');
        const gitAuth = ['-c', `http.extraHeader=Authorization: Bearer ${agent.token}`];
        await gitAsync(work, ...gitAuth, 'clone', '--quiet', branch.data.cloneUrl, 'repo');
        git(repo, 'checkout', '--quiet', '-B', branch.data.branch, `origin/${branch.data.branch}`);
        const message = `slow ${randomUUID()}`;
        writeFileSync(path.join(repo, 'message.txt'), `${message}\n`);
        git(repo, 'add', 'message.txt');
        git(repo, 'commit', '--quiet', '-m', 'the message');
        await gitAsync(
          repo,
          ...gitAuth,
          'push',
          '--quiet',
          'origin',
          `HEAD:refs/heads/${branch.data.branch}`,
        );
        expect((await callTool(client, 'create_pr', { taskId })).isError).toBe(false);

        const answers: Array<{ status: string; previewUrl: string | null; seconds: number }> = [];
        const progress: string[] = [];
        for (;;) {
          const started = Date.now();
          // Default options: the SDK's 60 s timeout, not reset by progress.
          const result = await client.callTool(
            { name: 'trigger_preview', arguments: { taskId } },
            undefined,
            { onprogress: (p) => progress.push(p.message ?? '') },
          );
          expect(result.isError).not.toBe(true);
          const answer = result.structuredContent as { status: string; previewUrl: string | null };
          answers.push({ ...answer, seconds: (Date.now() - started) / 1000 });
          if (answer.status !== 'deploying') break;
          if (answers.length === 1) await refusedWhileDeploying(agent.agentId, client, taskId);
        }
        return { taskId, message, answers, progress };
      }),
    );

    for (const { taskId, message, answers, progress } of outcomes) {
      // Three minutes of install take at least three calls of at most 50 s each.
      expect(answers.length).toBeGreaterThanOrEqual(4);
      expect(answers.slice(0, -1).every((a) => a.status === 'deploying')).toBe(true);
      expect(answers.every((a) => a.seconds < 60)).toBe(true);
      const last = answers.at(-1)!;
      expect(last.status).toBe('ready');
      expect(await (await fetch(last.previewUrl!)).text()).toContain(message);
      expect(progress.length).toBeGreaterThanOrEqual(answers.length);
      expect(progress[0]).toMatch(/^deploying the preview/);
      // One deploy, however many calls waited for it.
      const events = (await board.get(`/api/tasks/${taskId}/events`)).body.events as Array<{
        type: string;
      }>;
      expect(events.filter((e) => e.type === 'task:ready_to_test')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'task:delivery_failed')).toEqual([]);
      expect((await board.get(`/api/tasks/${taskId}`)).body).toMatchObject({
        state: 'ready_to_test',
        previewUrl: last.previewUrl,
      });
    }
    // The task resource now shows the pull request's diff (the local forge keeps it).
    const { client } = clients[0]!;
    const read = await client.readResource({ uri: `aiworker://tasks/${outcomes[0]!.taskId}` });
    expect(JSON.parse((read.contents[0] as { text: string }).text).pullRequest).toMatchObject({
      number: expect.any(Number),
      diff: { filesChanged: 1, files: [expect.objectContaining({ path: 'message.txt' })] },
    });
  }, 420_000);
});
