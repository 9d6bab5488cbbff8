import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { apiClient, createProject } from '../support/http';
import { callTool, connectAgent } from '../support/mcp-agent';
import { git, gitAsync, localRepositoryUrl, seedWithFixtureApp } from '../support/git';

/**
 * Where `driveToWaitingStates` leaves a task, by label: every state a task workflow waits in,
 * and the paths that lead there (a released task, an expired lease, a refused preview, a merge
 * conflict, a rolled-back deploy). The replay corpus and the upgrade test both start from here.
 */
export const TASK_SCENARIOS = [
  'backlog',
  'released',
  'lease_expired',
  'in_progress',
  'needs_input',
  'reminded',
  'answered',
  'delivery_failed',
  'ready_to_test',
  'changes_requested',
  'approved',
  'merge_conflict',
  'rolled_back',
  'in_merge',
  'merge_queued',
  'staged',
  'cancelled',
] as const;
export type TaskScenario = (typeof TASK_SCENARIOS)[number];

/** The merge batches of the scenario project, by what became of them. */
export const MERGE_SCENARIOS = ['conflict', 'rolled_back', 'deploying', 'queued'] as const;
export type MergeScenario = (typeof MERGE_SCENARIOS)[number];

/** The APIs a scenario talks to; both share one admin token and one task queue. */
export interface ScenarioStack {
  apiUrl: string;
  adminToken: string;
  /** An API whose new tasks have a lease and a question reminder of a few seconds. */
  quickApiUrl: string;
}

/** Everything `driveToWaitingStates` made, for the capture and for the next steps. */
export interface WaitingWorld {
  projectId: string;
  agentId: string;
  /** The agent's MCP token, for carrying on from another process. */
  agentToken: string;
  tasks: Record<TaskScenario, string>;
  merges: Record<MergeScenario, string>;
  driver: ScenarioDriver;
  /** Lets the held merge batch (`deploying`) finish; the queued one runs after it. */
  releaseHold(): void;
  /** Lets the refused preview and the failed staging deploy succeed when tried again. */
  clearFailures(): void;
}

/**
 * The install step of the scenario project's previews and staging. A branch can carry
 * `.scenario/<name>.json` rules: `failIf` fails the install while that file exists, `holdWhile`
 * keeps it waiting while that file exists. This is how a scenario fails a deploy or holds a
 * merge batch in the middle of its deploy.
 */
const GATE_SCRIPT = `// Install step of a scenario project (test/replay/scenarios.ts).
const fs = require('node:fs');
const dir = '.scenario';
const rules = fs.existsSync(dir)
  ? fs.readdirSync(dir).map((f) => JSON.parse(fs.readFileSync(dir + '/' + f, 'utf8')))
  : [];
for (const rule of rules) {
  if (rule.failIf && fs.existsSync(rule.failIf)) {
    console.error('failing on purpose: ' + rule.failIf + ' exists');
    process.exit(1);
  }
}
const held = () => rules.some((rule) => rule.holdWhile && fs.existsSync(rule.holdWhile));
(function wait() {
  if (held()) setTimeout(wait, 200);
})();
`;

const README = 'line one\nshared line\nline three\n';

/** A tool result with `isError: true` where the scenario expected success. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** Tools an agent may call again with the same arguments without changing more. */
const REPEATABLE_TOOLS = new Set(['create_branch', 'create_pr', 'heartbeat']);

/**
 * What a person (REST, admin token) and one agent (MCP, its own token) do in a scenario. Each
 * new task gets a higher priority than every earlier one, so the agent's next `get_next_task`
 * takes exactly the task just created even while older ones wait in the backlog.
 */
export class ScenarioDriver {
  private priority = -1000;
  readonly http: ReturnType<typeof apiClient>;
  private readonly quick: ReturnType<typeof apiClient>;

  constructor(
    stack: ScenarioStack,
    readonly projectId: string,
    readonly agentId: string,
    private readonly mcp: McpClient,
    /** The agent's clone of the project's repository. */
    private readonly clone: string,
    readonly log: (line: string) => void,
  ) {
    this.http = apiClient(stack.apiUrl, stack.adminToken);
    this.quick = apiClient(stack.quickApiUrl, stack.adminToken);
  }

  /** A person asks for a task (through the quick API: short lease and reminder). */
  async createTask(title: string, opts: { quick?: boolean } = {}): Promise<string> {
    this.priority += 1;
    const res = await (opts.quick ? this.quick : this.http).post('/api/tasks', {
      projectId: this.projectId,
      title,
      description: `scenario task: ${title}`,
      priority: this.priority,
    });
    this.expectStatus(res, 201, `create task "${title}"`);
    return res.body.taskId as string;
  }

  /** The agent takes its next task; it must be `expected` when given. */
  async claimNext(expected?: string): Promise<string | null> {
    const { task } = await this.tool('get_next_task', {});
    const id = (task?.id as string | undefined) ?? null;
    if (expected !== undefined && id !== expected) {
      throw new ScenarioError(`get_next_task gave ${id ?? 'nothing'}, expected task ${expected}`);
    }
    // The agent starts on it: its first call on the task says it has it (else its next
    // get_next_task would hand the same task over again).
    if (id) await this.tool('heartbeat', { taskId: id });
    return id;
  }

  /**
   * The agent calls a tool that must succeed; answers its structured result. Like an agent that
   * follows the error contract, it calls again after an `unavailable` answer (a workflow slow to
   * answer on a loaded machine), for the tools whose repetition changes nothing more.
   */
  async tool(name: string, args: Record<string, unknown>): Promise<any> {
    for (let attempt = 1; ; attempt += 1) {
      const result = await callTool(this.mcp, name, args);
      if (!result.isError) return result.data;
      const again =
        result.refusal?.code === 'unavailable' && REPEATABLE_TOOLS.has(name) && attempt < 3;
      if (!again) throw new ScenarioError(`${name} was refused: ${result.text}`);
    }
  }

  /** The agent calls a tool that must fail; answers the refusal's text. */
  async refusedTool(name: string, args: Record<string, unknown>): Promise<string> {
    const result = await callTool(this.mcp, name, args);
    if (!result.isError) throw new ScenarioError(`${name} succeeded where it should fail`);
    return result.text;
  }

  /** create_branch, commit `files` and push, create_pr: the work, ready for a preview. */
  async push(taskId: string, files: Record<string, string>): Promise<string> {
    const { branch } = await this.tool('create_branch', { taskId });
    await gitAsync(this.clone, 'fetch', '--quiet', 'origin');
    git(this.clone, 'checkout', '--quiet', '-B', branch, `origin/${branch}`);
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(this.clone, file)), { recursive: true });
      writeFileSync(path.join(this.clone, file), content);
    }
    git(this.clone, 'add', '--all');
    git(this.clone, 'commit', '--quiet', '-m', `work on ${taskId}`);
    await gitAsync(this.clone, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    await this.tool('create_pr', { taskId });
    return git(this.clone, 'rev-parse', 'HEAD');
  }

  /** The whole delivery: push, then `trigger_preview` hands the task in (`ready_to_test`). */
  async deliver(taskId: string, files: Record<string, string>): Promise<void> {
    await this.push(taskId, files);
    await this.tool('trigger_preview', { taskId });
  }

  async ask(taskId: string, question: string): Promise<string> {
    const { questionId } = await this.tool('ask_user_question', { taskId, question });
    return questionId as string;
  }

  /** A person's transition on a task (`respond`, `approve`, `request-changes`, `cancel`). */
  async person(taskId: string, action: string, body?: unknown): Promise<any> {
    const res = await this.http.post(`/api/tasks/${taskId}/${action}`, body);
    this.expectStatus(res, 200, `${action} task ${taskId}`);
    return res.body;
  }

  async task(taskId: string): Promise<any> {
    const res = await this.http.get(`/api/tasks/${taskId}`);
    this.expectStatus(res, 200, `read task ${taskId}`);
    return res.body;
  }

  async events(taskId: string): Promise<Array<{ type: string }>> {
    const res = await this.http.get(`/api/tasks/${taskId}/events`);
    this.expectStatus(res, 200, `read the events of task ${taskId}`);
    return res.body.events;
  }

  /** A person merges approved tasks; answers the merge's id. */
  async merge(taskIds: string[]): Promise<string> {
    const res = await this.http.post('/api/merge', { taskIds });
    this.expectStatus(res, 202, `merge ${taskIds.join(', ')}`);
    return res.body.mergeId as string;
  }

  async mergeState(mergeId: string): Promise<any> {
    const res = await this.http.get(`/api/merges/${mergeId}`);
    this.expectStatus(res, 200, `read merge ${mergeId}`);
    return res.body;
  }

  /** Polls until `check` answers a value (not undefined), or fails after `ms` saying `what`. */
  async until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new ScenarioError(`${what}: not within ${ms / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async untilTaskState(taskId: string, state: string, ms = 60_000): Promise<any> {
    return await this.until(`task ${taskId} in ${state}`, ms, async () => {
      const task = await this.task(taskId);
      return task.state === state ? task : undefined;
    });
  }

  async untilMerge(mergeId: string, states: string[], ms = 120_000): Promise<any> {
    return await this.until(`merge ${mergeId} in ${states.join(' or ')}`, ms, async () => {
      const merge = await this.mergeState(mergeId);
      return states.includes(merge.state) ? merge : undefined;
    });
  }

  private expectStatus(res: { status: number; body: unknown }, status: number, what: string) {
    if (res.status !== status) {
      throw new ScenarioError(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
}

/**
 * Creates a project (local forge, the fixture app on staging) and an agent, and leaves one task
 * in each of `TASK_SCENARIOS` and one merge batch in each of `MERGE_SCENARIOS`: the conflict
 * and rolled-back batches have finished, the `deploying` batch is held in the middle of its
 * deploy (until `releaseHold`), and the `queued` batch waits behind it. Files it needs live
 * under `workdir`.
 */
export async function driveToWaitingStates(
  stack: ScenarioStack,
  workdir: string,
  log: (line: string) => void = () => undefined,
): Promise<WaitingWorld & { close(): Promise<void> }> {
  const admin = apiClient(stack.apiUrl, stack.adminToken);
  const project = await createProject(admin, {
    name: `scenarios-${path.basename(workdir)}`,
    preview: {
      installCommand: 'node scenario-gate.js',
      startCommand: 'node server.js',
      healthPath: '/healthz',
    },
  });
  const projectId: string = project.id;
  // Seeded as the operator would, on the repository itself; the agent then uses the gateway.
  const clone = seedWithFixtureApp(localRepositoryUrl(projectId), workdir);
  writeFileSync(path.join(clone, 'scenario-gate.js'), GATE_SCRIPT);
  writeFileSync(path.join(clone, 'README.md'), README);
  git(clone, 'add', '--all');
  git(clone, 'commit', '--quiet', '-m', 'scenario install gate');
  git(clone, 'push', '--quiet', 'origin', 'HEAD:refs/heads/staging');

  const registered = await admin.post('/api/agents', {
    name: 'scenario agent',
    projectIds: [projectId],
  });
  if (registered.status !== 201) throw new ScenarioError(`register agent: ${registered.status}`);
  // From here on the clone is the agent's: it fetches and pushes through the git gateway.
  git(clone, 'remote', 'set-url', 'origin', project.cloneUrl);
  git(clone, 'config', 'http.extraHeader', `Authorization: Bearer ${registered.body.token}`);
  const mcp = await connectAgent(stack.apiUrl, registered.body.token);
  const d = new ScenarioDriver(stack, projectId, registered.body.agentId, mcp, clone, log);

  const gates = path.join(workdir, 'gates');
  mkdirSync(gates, { recursive: true });
  const failNow = path.join(gates, 'fail-now');
  const failLater = path.join(gates, 'fail-later');
  const hold = path.join(gates, 'hold');
  writeFileSync(failNow, '');
  const rule = (name: string, body: object) => ({
    [`.scenario/${name}.json`]: JSON.stringify(body),
  });

  const tasks = {} as Record<TaskScenario, string>;
  /** A new task, taken by the agent at once. */
  const claimed = async (label: TaskScenario, opts: { quick?: boolean } = {}) => {
    tasks[label] = await d.createTask(label, opts);
    await d.claimNext(tasks[label]);
    log(`task ${label}: ${tasks[label]}`);
    return tasks[label];
  };

  // Delivered work first: these are handed in (ready_to_test) before anything else is claimed.
  const delivered: Array<[TaskScenario, Record<string, string>]> = [
    ['ready_to_test', {}],
    ['changes_requested', {}],
    ['approved', {}],
    ['staged', { 'README.md': 'line one\nchanged by the first task\nline three\n' }],
    ['merge_conflict', { 'README.md': 'line one\nchanged by the second task\nline three\n' }],
    ['rolled_back', rule('rolled-back', { failIf: failLater })],
    ['in_merge', rule('in-merge', { holdWhile: hold })],
    ['merge_queued', {}],
  ];
  for (const [label, files] of delivered) {
    const taskId = await claimed(label);
    await d.deliver(taskId, { [`work/${label}.txt`]: `work of ${taskId}\n`, ...files });
  }
  for (const label of [
    'approved',
    'staged',
    'merge_conflict',
    'rolled_back',
    'in_merge',
    'merge_queued',
  ] as const) {
    await d.person(tasks[label], 'approve');
  }

  // A preview the runtime refuses: the task stays in progress with `task:delivery_failed`.
  await claimed('delivery_failed');
  await d.push(tasks.delivery_failed, rule('delivery-failed', { failIf: failNow }));
  await d.refusedTool('trigger_preview', { taskId: tasks.delivery_failed });

  await claimed('needs_input');
  await d.ask(tasks.needs_input, 'Which colour should the button be?');
  await claimed('answered');
  const questionId = await d.ask(tasks.answered, 'Keep the old page?');
  await d.person(tasks.answered, 'respond', { answer: 'No, replace it.', questionId });
  await claimed('in_progress');
  await d.tool('report_progress', { taskId: tasks.in_progress, message: 'halfway there' });
  await claimed('released');
  await d.tool('release_task', { taskId: tasks.released, reason: 'not my kind of task' });

  // Short leases and reminders (the quick API): the reminder fires, the lease runs out.
  await claimed('reminded', { quick: true });
  await d.ask(tasks.reminded, 'Is anybody there?');
  await claimed('lease_expired', { quick: true });
  await d.untilTaskState(tasks.lease_expired, 'backlog');

  tasks.backlog = await d.createTask('backlog');
  tasks.cancelled = await d.createTask('cancelled');
  await d.person(tasks.cancelled, 'cancel', { reason: 'not needed after all' });

  // Merges, one batch at a time: a conflict, a deploy that fails and is rolled back, a deploy
  // held in the middle, and a batch queued behind it.
  const merges = {} as Record<MergeScenario, string>;
  merges.conflict = await d.merge([tasks.staged, tasks.merge_conflict]);
  await d.untilMerge(merges.conflict, ['completed']);
  writeFileSync(failLater, '');
  merges.rolled_back = await d.merge([tasks.rolled_back]);
  await d.untilMerge(merges.rolled_back, ['rolled_back']);
  writeFileSync(hold, '');
  merges.deploying = await d.merge([tasks.in_merge]);
  await d.untilMerge(merges.deploying, ['deploying']);
  merges.queued = await d.merge([tasks.merge_queued]);
  await d.untilMerge(merges.queued, ['queued']);

  // Sent back by a person only now: the agent's own changes_requested tasks come first in
  // get_next_task, and every claim above has been made.
  await d.person(tasks.changes_requested, 'request-changes', { feedback: 'Make it blue.' });
  await d.until('the first question reminder', 60_000, async () =>
    (await d.events(tasks.reminded)).some((e) => e.type === 'task:input_reminder')
      ? true
      : undefined,
  );
  return {
    projectId,
    agentId: d.agentId,
    agentToken: registered.body.token as string,
    tasks,
    merges,
    driver: d,
    releaseHold: () => rmSync(hold, { force: true }),
    clearFailures: () => {
      rmSync(failNow, { force: true });
      rmSync(failLater, { force: true });
    },
    close: () => mcp.close(),
  };
}
