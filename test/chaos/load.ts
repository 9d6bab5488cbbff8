import { setTimeout as sleep } from 'node:timers/promises';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** Text no client may ever see: library messages, source paths, stack frames. */
export const LEAKS =
  /prisma|invocation|\.ts:\d|\/work\/|node_modules|\bat [\w.<>]+ \(|grpc|temporalio|ECONNREFUSED|sql|ioredis/i;

/** What the clients saw, for the assertions and the figures. */
export interface Seen {
  /** Every task handed to an agent for the first time. */
  claims: Array<{ agentId: string; taskId: string; at: number }>;
  /** Tasks handed over again (`resumed: true`): the claim's first answer was lost. */
  resumed: Array<{ agentId: string; taskId: string }>;
  /** Questions answered (each task with a question gets one). */
  answered: Set<string>;
  /** When any call of an agent or a person succeeded: the service gaps are read off this. */
  successes: number[];
  /** Every error text a client received (tool results, REST bodies, transport errors). */
  errors: string[];
  /** Error codes received, by code. */
  codes: Map<string, number>;
  /** Tasks a person created, by the id the API answered. */
  created: Set<string>;
  /** The last thing each agent's work on a task came to, for a run that does not finish. */
  lastStep: Map<string, string>;
}

export function newSeen(): Seen {
  return {
    claims: [],
    resumed: [],
    answered: new Set(),
    successes: [],
    errors: [],
    codes: new Map(),
    created: new Set(),
    lastStep: new Map(),
  };
}

function count(seen: Seen, code: string): void {
  seen.codes.set(code, (seen.codes.get(code) ?? 0) + 1);
}

/**
 * A person's HTTP client over both API processes: a request that finds one process away goes to
 * the other, as behind a load balancer.
 */
export class PersonClient {
  private next = 0;
  constructor(
    private readonly urls: string[],
    private readonly token: string,
    private readonly seen: Seen,
  ) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: any } | null> {
    const url = this.urls[this.next++ % this.urls.length]!;
    try {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status >= 400) {
        this.seen.errors.push(text);
        const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'none';
        count(this.seen, `rest:${code}`);
      } else {
        this.seen.successes.push(Date.now());
      }
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    } catch (err) {
      count(this.seen, 'rest:transport');
      this.seen.errors.push((err as Error).message);
      return null;
    }
  }

  /** Repeats a request until it answers `want`, waiting as told between tries. */
  async until(
    want: number,
    method: string,
    path: string,
    body?: unknown,
    stop?: () => boolean,
  ): Promise<any> {
    for (;;) {
      const res = await this.request(method, path, body);
      if (res?.status === want) return res.body;
      if (stop?.()) return null;
      const after = Number(res?.body?.error?.retryAfterSeconds ?? 0.5);
      await sleep(Math.min(after, 1) * 1000);
    }
  }
}

/** A result of a tool call, as the agent reads it. */
interface ToolAnswer {
  ok: boolean;
  data: any;
  code?: string;
  retryAfterSeconds?: number;
}

/**
 * An agent over MCP with a client for each API process: when the one it uses is away (the
 * transport fails), it moves to the other, as behind a load balancer.
 */
export class ChaosAgent {
  private clients: Array<McpClient | null>;
  private current: number;

  constructor(
    readonly agentId: string,
    private readonly token: string,
    private readonly urls: string[],
    index: number,
    private readonly seen: Seen,
  ) {
    this.clients = urls.map(() => null);
    this.current = index % urls.length;
  }

  private async client(): Promise<McpClient> {
    const existing = this.clients[this.current];
    if (existing) return existing;
    const client = new McpClient({ name: `chaos-${this.agentId}`, version: '0.0.0' });
    const transport = new StreamableHTTPClientTransport(
      new URL(`${this.urls[this.current]!}/mcp`),
      { requestInit: { headers: { authorization: `Bearer ${this.token}` } } },
    );
    await client.connect(transport);
    this.clients[this.current] = client;
    return client;
  }

  /** One call; a failed transport moves the agent to the other API process. */
  async call(name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
    try {
      const client = await this.client();
      const result = await client.callTool({ name, arguments: args }, undefined, {
        timeout: 120_000,
      });
      if (result.isError) {
        const text = (result.content as Array<{ text?: string }>)[0]?.text ?? '';
        const meta = result._meta?.['aiworker/error'] as
          { code?: string; retryAfterSeconds?: number } | undefined;
        this.seen.errors.push(text);
        count(this.seen, `mcp:${meta?.code ?? 'none'}`);
        return {
          ok: false,
          data: null,
          code: meta?.code ?? 'none',
          retryAfterSeconds: meta?.retryAfterSeconds,
        };
      }
      this.seen.successes.push(Date.now());
      return { ok: true, data: result.structuredContent };
    } catch (err) {
      const message = (err as Error).message;
      this.seen.errors.push(message);
      count(this.seen, 'mcp:transport');
      const broken = this.clients[this.current];
      this.clients[this.current] = null;
      void broken?.close().catch(() => undefined);
      this.current = (this.current + 1) % this.urls.length;
      return { ok: false, data: null, code: 'transport' };
    }
  }

  /** Takes tasks until `stop()`; asks a question on tasks whose title says so and waits for it. */
  async work(stop: () => boolean): Promise<void> {
    const known = new Set<string>();
    while (!stop()) {
      const next = await this.call('get_next_task', { waitSeconds: 2 });
      if (!next.ok) {
        await sleep(Math.min(next.retryAfterSeconds ?? 0.3, 1) * 1000);
        continue;
      }
      const task = next.data.task as { id: string; title: string; resumed: boolean } | null;
      if (!task) continue;
      if (known.has(task.id)) {
        // Handed over again: the answer of an earlier call on it was lost.
        this.seen.resumed.push({ agentId: this.agentId, taskId: task.id });
      } else {
        known.add(task.id);
        this.seen.claims.push({ agentId: this.agentId, taskId: task.id, at: Date.now() });
        if (task.resumed) this.seen.resumed.push({ agentId: this.agentId, taskId: task.id });
      }
      await this.carryOut(task, stop);
    }
  }

  private async carryOut(task: { id: string; title: string }, stop: () => boolean): Promise<void> {
    const retry = async (name: string, args: Record<string, unknown>) => {
      for (;;) {
        const res = await this.call(name, args);
        this.seen.lastStep.set(
          task.id,
          `${this.agentId}: ${name} ${res.ok ? JSON.stringify(res.data) : res.code}`,
        );
        // A refusal is an answer (e.g. a question already asked by an earlier, lost call).
        if (res.ok || (res.code !== 'transport' && res.code !== 'unavailable')) return res;
        if (stop()) return res;
        await sleep(Math.min(res.retryAfterSeconds ?? 0.3, 1) * 1000);
      }
    };
    if (!task.title.includes('[ask]')) {
      await retry('heartbeat', { taskId: task.id });
      return;
    }
    await retry('ask_user_question', { taskId: task.id, question: `what should ${task.id} do?` });
    while (!stop()) {
      const res = await retry('check_response', { taskId: task.id, waitSeconds: 5 });
      if (res.ok && res.data.answered) {
        this.seen.answered.add(task.id);
        return;
      }
      if (!res.ok && res.code !== 'unavailable' && res.code !== 'transport') return;
    }
  }

  async close(): Promise<void> {
    for (const client of this.clients) await client?.close().catch(() => undefined);
  }
}

/**
 * A person answering every open question of the project, through whichever API answers.
 * Answers may be given twice (a lost answer is repeated): the second is refused, which is fine.
 */
export async function answerQuestions(
  person: PersonClient,
  projectId: string,
  stop: () => boolean,
): Promise<void> {
  while (!stop()) {
    const res = await person.request('GET', `/api/tasks?projectId=${projectId}&state=needs_input`);
    const waiting = (res?.status === 200 ? res.body.tasks : []) as Array<{ id: string }>;
    for (const task of waiting) {
      await person.request('POST', `/api/tasks/${task.id}/respond`, { answer: 'do it this way' });
    }
    await sleep(waiting.length ? 100 : 500);
  }
}
