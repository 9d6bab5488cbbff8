import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { askQuestionUpdate, claimTaskUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import { closeDb, createDb } from '../db/client';
import { DIST_DIR, REPO_ROOT } from '../platform/config';
import { apiClient, createProject } from './support/http';
import { registerTestAgent } from './support/agents';
import { freePort } from './support/free-port';
import { commandOf, descendants, isAlive, isListening } from './support/processes';
import { executeTaskUpdate } from '../platform/task-updates';

/** `npm start`'s entry point in the compiled build. */
const START = path.join(DIST_DIR, 'scripts', 'start.js');

/**
 * What a user gets from `npm start`: the real start script of the compiled build (`npm run
 * build`), with the Temporal dev server, the worker and the API as separate processes running
 * compiled code; then Ctrl-C, and nothing may be left behind.
 */
describe('npm start', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'aiworker-smoke-'));
  const token = randomBytes(24).toString('hex');
  let ports: { api: number; temporal: number; ui: number };

  const started: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(START))
      throw new Error('no build in dist/: run `npm run build` (npm test does)');
    ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
  });

  // A failed assertion must not leave a start script (and its servers) running.
  afterEach(async () => {
    for (const child of started.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) await stop(child);
    }
  });

  function start(): { child: ChildProcess; output: () => string; ready: Promise<void> } {
    let out = '';
    const child = spawn(process.execPath, [START], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: String(ports.api),
        TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
        TEMPORAL_UI_PORT: String(ports.ui),
        TEMPORAL_DEV_SERVER: 'on',
        AIWORKER_DATA_DIR: dataDir,
        AIWORKER_ADMIN_TOKEN: token,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ctrl-C stops everything')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) =>
        reject(new Error(`npm start exited with ${code} before it was ready:\n${out}`)),
      );
    });
    return { child, output: () => out, ready };
  }

  async function stop(child: ChildProcess): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.kill('SIGINT');
    return await exited;
  }

  async function uiWorkflow(workflowId: string): Promise<{ status?: string } | undefined> {
    const res = await fetch(
      `http://127.0.0.1:${ports.ui}/api/v1/namespaces/default/workflows/${encodeURIComponent(workflowId)}`,
    );
    if (!res.ok) return undefined;
    const body = (await res.json()) as { workflowExecutionInfo?: { status?: string } };
    return body.workflowExecutionInfo;
  }

  async function survivors(pids: number[], graceMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + graceMs;
    while (pids.some(isAlive) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    return pids.filter(isAlive).map((pid) => `${pid}: ${commandOf(pid)}`);
  }

  let firstProbe = '';
  let waitingTaskId = '';

  /** Takes the task and asks a question, as an agent's MCP calls would. */
  async function askAsAgent(taskId: string): Promise<void> {
    const db = createDb(process.env.DATABASE_URL!, { connectionLimit: 1 });
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const agentId = await registerTestAgent(db, 'smoke');
      const handle = new Client({ connection }).workflow.getHandle(taskWorkflowId(taskId));
      await executeTaskUpdate(handle, claimTaskUpdate, { agentId });
      await executeTaskUpdate(handle, askQuestionUpdate, {
        agentId,
        questionId: randomUUID(),
        question: 'wait?',
      });
    } finally {
      await connection.close();
      await closeDb(db);
    }
  }

  it('starts every part, runs a workflow through the worker, and stops them all on Ctrl-C', async () => {
    const run = start();
    await run.ready;
    const out = run.output();
    expect(out).toContain(`API and board     http://127.0.0.1:${ports.api}`);
    expect(out).toContain(`Temporal Web UI   http://127.0.0.1:${ports.ui}`);
    const probe = /ran probe workflow (worker-probe-\d+) \(mysql up, redis up\)/.exec(out);
    expect(probe).not.toBeNull();
    firstProbe = probe![1]!;

    const ready = await fetch(`http://127.0.0.1:${ports.api}/readyz`);
    expect(ready.status).toBe(200);
    const session = await fetch(`http://127.0.0.1:${ports.api}/api/session`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(session.status).toBe(200);

    // The Web UI answers and shows the workflow the start-up probe ran.
    const page = await fetch(`http://127.0.0.1:${ports.ui}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    expect(await uiWorkflow(firstProbe)).toMatchObject({
      status: 'WORKFLOW_EXECUTION_STATUS_COMPLETED',
    });

    // A task left waiting on a question when everything stops (see the restart test below).
    const http = apiClient(`http://127.0.0.1:${ports.api}`, token);
    const projectId = (await createProject(http, { name: `smoke-${randomUUID()}` })).id;
    waitingTaskId = (
      await http.post('/api/tasks', { projectId, title: 'survives', description: '' })
    ).body.taskId;
    await askAsAgent(waitingTaskId);
    expect((await http.get(`/api/tasks/${waitingTaskId}`)).body.state).toBe('needs_input');

    const tree = descendants(run.child.pid!);
    expect(tree.length).toBeGreaterThanOrEqual(3); // temporal, worker, api
    expect(out).not.toContain(token);

    expect(await stop(run.child)).toBe(0);
    // Helpers of the children (esbuild's service process) end when their parent's pipes close.
    expect(await survivors(tree)).toEqual([]);
    for (const port of Object.values(ports)) expect(await isListening(port)).toBe(false);
  }, 180_000);

  it('keeps Temporal state in the data folder across a restart of every process', async () => {
    expect(firstProbe).not.toBe('');
    const run = start();
    await run.ready;
    expect(await uiWorkflow(firstProbe)).toMatchObject({
      status: 'WORKFLOW_EXECUTION_STATUS_COMPLETED',
    });
    // The question asked before the restart is still waiting, and its answer goes through.
    const http = apiClient(`http://127.0.0.1:${ports.api}`, token);
    const answered = await http.post(`/api/tasks/${waitingTaskId}/respond`, {
      answer: 'still here',
    });
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ state: 'in_progress' });
    expect(answered.body.questions[0]).toMatchObject({ answer: 'still here' });
    expect(await stop(run.child)).toBe(0);
  }, 180_000);

  it('brings back each part killed with SIGKILL, by itself', async () => {
    const run = start();
    await run.ready;
    const http = apiClient(`http://127.0.0.1:${ports.api}`, token);
    /** The start script's own child whose command line contains `marker`. */
    const partPid = (marker: string) => {
      const pid = descendants(run.child.pid!).find((p) => commandOf(p).includes(marker));
      if (!pid) throw new Error(`no process of npm start runs ${marker}`);
      return pid;
    };
    const restarted = async (name: string) => {
      const deadline = Date.now() + 120_000;
      const line = `${name} is running again`;
      const before = run.output().split(line).length;
      while (run.output().split(line).length === before) {
        if (Date.now() > deadline) throw new Error(`${name} did not come back:\n${run.output()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    /** A project created through the API runs a workflow on the worker: every part works. */
    const works = async () => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const res = await http
          .post('/api/projects', { name: `back-${randomUUID()}` })
          .catch(() => ({ status: 0 }));
        if (res.status === 201) return;
        if (Date.now() > deadline)
          throw new Error(`the system did not recover (last status ${res.status})`);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    for (const [name, marker] of [
      ['worker', 'dist/worker/main.js'],
      ['api', 'dist/api/main.js'],
      ['temporal', 'start-dev'],
    ] as const) {
      const pid = partPid(marker);
      process.kill(pid, 'SIGKILL');
      await restarted(name);
      expect(partPid(marker)).not.toBe(pid);
      await works();
      expect(run.output()).toContain(`${name} ended unexpectedly (signal SIGKILL)`);
    }
    expect(run.child.exitCode).toBeNull();
    expect(await stop(run.child)).toBe(0);
  }, 600_000);
});
