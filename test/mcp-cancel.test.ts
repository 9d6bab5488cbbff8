import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { REFUSAL_META_KEY } from '../mcp/tools/result';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { claimRecord } from './support/claim-record';
import { apiClient, createProject } from './support/http';
import { within } from './support/within';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Calls cancelled, aborted or dropped at random moments. */
const TRIALS = 200;

/** A random whole number in [0, n). */
const random = (n: number) => Math.floor(Math.random() * n);

/**
 * A task is assigned only if the agent receives it: get_next_task calls are cancelled at random
 * moments while tasks arrive, through two API processes (a call and its cancellation often reach
 * different ones), and afterwards every task the agent holds is one it received.
 */
describe('get_next_task: no task goes to an agent that did not receive it', () => {
  const taskQueue = uniqueTaskQueue('mcp-cancel');
  let worker: { stop(): Promise<void> };
  let apis: TestApi[];
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    worker = await startTestWorker({ taskQueue });
    apis = [await startTestApi({ taskQueue }), await startTestApi({ taskQueue })];
    admin = apiClient(apis[0]!.url, apis[0]!.adminToken);
  });
  afterAll(async () => {
    await Promise.all(apis.map((a) => a.close()));
    await worker.stop();
  });

  it('holds over 200 cancelled, aborted and dropped calls with two API processes', async () => {
    const projectId = (await createProject(admin, { name: `cancel-${randomUUID()}` })).id as string;
    const agent = (await admin.post('/api/agents', { name: 'canceller', projectIds: [projectId] }))
      .body;
    const pick = () => apis[random(2)]!.url;
    // The SDK client, each POST to either process: its abort sends notifications/cancelled.
    const client = new Client({ name: 'cancelling-agent', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${apis[0]!.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${agent.token}` } },
        fetch: (url, init) => fetch(String(url).replace(apis[0]!.url, pick()), init),
      }),
    );
    /** A raw POST whose connection is dropped: no cancellation, just a closed socket. */
    const dropped = async (abortAfterMs: number): Promise<string | null> => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), abortAfterMs);
      try {
        const res = await fetch(`${pick()}/mcp`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${agent.token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: randomUUID(),
            method: 'tools/call',
            params: { name: 'get_next_task', arguments: { projectId, waitSeconds: 2 } },
          }),
          signal: controller.signal,
        });
        // The answer has come: the agent reads it (a drop now would be the agent's own loss).
        clearTimeout(timer);
        const body = (await res.json()) as { result?: { structuredContent?: any } };
        return body.result?.structuredContent?.task?.id ?? null;
      } catch {
        return null; // aborted before the whole answer arrived: nothing received
      }
    };
    const sdkCall = async (abortAfterMs: number): Promise<string | null> => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), abortAfterMs);
      try {
        const result = await client.callTool(
          { name: 'get_next_task', arguments: { projectId, waitSeconds: 2 } },
          undefined,
          { signal: controller.signal },
        );
        return (result.structuredContent as any)?.task?.id ?? null;
      } catch {
        return null; // cancelled: the SDK drops whatever answer comes later
      }
    };

    const received = new Set<string>();
    const created: string[] = [];
    let trials = 0;
    for (; trials < TRIALS; trials += 1) {
      const call = trials % 2 === 0 ? sdkCall(random(400)) : dropped(random(400));
      // The task arrives before, while or after the call waits.
      await sleep(random(150));
      created.push(
        (await admin.post('/api/tasks', { projectId, title: `t${trials}`, description: '' })).body
          .taskId,
      );
      const got = await call;
      if (got) {
        received.add(got);
        // The agent starts on it: its first call on the task says it has it.
        await client.callTool({ name: 'heartbeat', arguments: { taskId: got } });
      }
    }
    // The agent has given up on every call, but an API process may still be finishing one (its
    // claim landing as the connection closed): wait until both have, so that a claim answered
    // to nobody is marked before the agent's next call looks.
    await within(
      'the API processes to finish the calls the agent gave up on',
      60_000,
      (async () => {
        while (apis.some((a) => a.deps.cancellations.open > 0)) await sleep(100);
      })(),
      () => apis.map((a) => a.deps.cancellations.open),
    );
    // A claim whose answer was written but never read (the connection dropped just then, with
    // no cancellation) is the agent's: its next get_next_task hands it over again.
    let resumed = 0;
    for (;;) {
      const result = await client.callTool({ name: 'get_next_task', arguments: { projectId } });
      if (result.isError) {
        // A retryable failure (a claim not yet confirmed): the agent calls again, as told.
        const failure = result._meta?.[REFUSAL_META_KEY] as { retryable?: boolean } | undefined;
        if (!failure?.retryable) throw new Error(`get_next_task failed: ${JSON.stringify(result)}`);
        await sleep(500);
        continue;
      }
      const next = result.structuredContent as { task: { id: string; resumed: boolean } | null };
      if (!next.task?.resumed) {
        if (next.task) received.add(next.task.id);
        break;
      }
      resumed += 1;
      received.add(next.task.id);
      await client.callTool({ name: 'heartbeat', arguments: { taskId: next.task.id } });
    }
    await client.close();

    // Give-backs run as the cancellations and closed connections arrive: wait until they have.
    const held = async () =>
      (
        (await admin.get(`/api/tasks?projectId=${projectId}&limit=1000`)).body.tasks as Array<{
          id: string;
          state: string;
          assignedAgentId: string | null;
        }>
      ).filter((t) => t.state !== 'backlog');
    let last: unknown;
    let unreceivedIds: string[] = [];
    await within(
      'every held task to be one the agent received',
      60_000,
      (async () => {
        for (;;) {
          const tasks = await held();
          const unreceived = tasks.filter((t) => !received.has(t.id));
          last = { held: tasks.length, received: received.size, unreceived: unreceived.length };
          unreceivedIds = unreceived.map((t) => t.id);
          if (unreceived.length === 0) return;
          await sleep(200);
        }
      })(),
      () => last,
    ).catch(async (err: Error) => {
      // What the agent's delivery mark and the workflow's record say of each one not received.
      const records = await Promise.all(
        unreceivedIds.map(async (id) => ({
          id,
          ...(await claimRecord(apis[0]!.deps, id, [agent.agentId])),
        })),
      );
      throw new Error(`${err.message}; ${JSON.stringify(records)}`);
    });
    const tasks = await held();
    expect(
      tasks.every((t) => t.state === 'in_progress' && t.assignedAgentId === agent.agentId),
    ).toBe(true);
    expect(new Set(tasks.map((t) => t.id))).toEqual(received);
    expect(created).toHaveLength(TRIALS);
    // Both outcomes happened: some calls received their task, some cancellations gave one back.
    expect(received.size).toBeGreaterThan(0);
    expect(received.size).toBeLessThanOrEqual(TRIALS);
    process.stdout.write(
      `cancellation trials: ${trials}; tasks received: ${received.size} (${resumed} handed over again by a later call); given back or never taken: ${TRIALS - received.size}\n`,
    );
  }, 300_000);
});
