import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { NextTask } from '../contracts/agent';

/** A task as `get_next_task` hands it over. */
export type AgentTask = NextTask;

/** The MCP tools, called by name with structured results; what `work` steps use. */
export interface AgentTools {
  call(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export interface ReferenceAgentOptions {
  /** The aiworker API, e.g. http://127.0.0.1:3000 (the MCP endpoint is `/mcp` under it). */
  url: string;
  /** The agent's token from `POST /api/agents`. */
  token: string;
  /** The question to ask before working on a task, or null to ask none. Default: one question per task. */
  question?: (task: AgentTask) => string | null;
  /** The work itself, once any question is answered. Default: a progress note. */
  work?: (task: AgentTask, tools: AgentTools, answer: string | null) => Promise<void>;
  /** How long one `get_next_task` waits for work (seconds, 0–60). */
  waitSeconds?: number;
  /** Stop after this many tasks (default: run until `signal` aborts). */
  maxTasks?: number;
  signal?: AbortSignal;
  /** Where the agent says what it does, a line at a time. */
  log?: (line: string) => void;
}

/** A refusal or failure reported by a tool (`isError: true`): the agent reads it and decides. */
export class ToolError extends Error {
  constructor(
    readonly tool: string,
    message: string,
  ) {
    super(`${tool}: ${message}`);
    this.name = 'ToolError';
  }
}

/** Connects to aiworker's MCP endpoint as the agent holding `token`. */
export async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'aiworker-reference-agent', version: '0.1.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** How many times a call answered `unavailable` (retryable) is made again before giving up. */
const UNAVAILABLE_RETRIES = 5;

/**
 * Tool calls with a deadline long enough for the tools that wait (up to 60 s) or deploy previews.
 * A call answered `unavailable` (a dependency away, a workflow slow to answer) is made again after
 * the `retryAfterSeconds` it names, as the error contract says.
 */
function toolsOf(client: Client): AgentTools {
  return {
    async call(name, args) {
      for (let attempt = 0; ; attempt += 1) {
        const result = await client.callTool({ name, arguments: args }, undefined, {
          timeout: 10 * 60_000,
        });
        if (!result.isError) return result.structuredContent as Record<string, unknown>;
        const text = (result.content as Array<{ text?: string }>)[0]?.text ?? 'failed';
        const failure = result._meta?.['aiworker/error'] as
          { code?: string; retryAfterSeconds?: number } | undefined;
        if (failure?.code !== 'unavailable' || attempt >= UNAVAILABLE_RETRIES) {
          throw new ToolError(name, text);
        }
        await new Promise((r) => setTimeout(r, (failure.retryAfterSeconds ?? 1) * 1000));
      }
    },
  };
}

/**
 * A small agent that works the way a coding agent does over aiworker's MCP tools: it takes the
 * next task, asks the people a question and waits for the answer, does its work, and reports
 * progress. It is for demonstrations and end-to-end tests; real agents (Claude Code and others)
 * use the same tools. Resolves with the ids of the tasks it worked on.
 */
export async function runReferenceAgent(opts: ReferenceAgentOptions): Promise<string[]> {
  const log = opts.log ?? (() => undefined);
  const question = opts.question ?? ((t: AgentTask) => `What should "${t.title}" look like?`);
  const work =
    opts.work ??
    (async (task: AgentTask, tools: AgentTools) => {
      await tools.call('report_progress', { taskId: task.id, message: 'done working' });
    });
  const client = await connect(opts.url, opts.token);
  const tools = toolsOf(client);
  const done: string[] = [];
  try {
    while (!opts.signal?.aborted && done.length < (opts.maxTasks ?? Infinity)) {
      const { task } = (await tools.call('get_next_task', {
        waitSeconds: opts.waitSeconds ?? 30,
      })) as { task: AgentTask | null };
      if (!task) continue;
      log(`took task ${task.id}: ${task.title}`);
      await tools.call('report_progress', { taskId: task.id, message: 'started' });
      const answer = await ask(tools, task, question(task), log, opts.signal);
      if (answer === undefined) break;
      await work(task, tools, answer);
      done.push(task.id);
      log(`finished task ${task.id}`);
    }
  } finally {
    await client.close();
  }
  return done;
}

/**
 * Asks (unless the task already has an answer to the same question, e.g. it came back for
 * changes) and waits for the answer. Resolves undefined if the agent is stopped while waiting.
 */
async function ask(
  tools: AgentTools,
  task: AgentTask,
  text: string | null,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<string | null | undefined> {
  if (text === null) return null;
  const earlier = task.answers.find((a) => a.question === text && a.answer !== null);
  if (earlier) return earlier.answer;
  const { questionId } = (await tools.call('ask_user_question', {
    taskId: task.id,
    question: text,
  })) as { questionId: string };
  log(`asked on task ${task.id}: ${text}`);
  while (!signal?.aborted) {
    const res = (await tools.call('check_response', {
      taskId: task.id,
      questionId,
      waitSeconds: 30,
    })) as { answered: boolean; answer?: string };
    if (res.answered) {
      log(`answer on task ${task.id}: ${res.answer}`);
      return res.answer ?? '';
    }
  }
  return undefined;
}
