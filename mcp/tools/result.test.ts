import { TaskWorkflowUnresponsive } from '../../platform/errors';
import { ClaimOutcomeUnknown, NoTimeLeftToClaim } from '../claims';
import { toolCalls } from '../metrics';
import { AgentRefusal } from '../refusals';
import { CALL_DEADLINE_MS, REFUSAL_META_KEY, toolResult } from './result';

const failureOf = (result: Awaited<ReturnType<typeof toolResult>>) => ({
  isError: result.isError,
  text: (result.content[0] as { text: string }).text,
  meta: result._meta?.[REFUSAL_META_KEY] as Record<string, unknown>,
});

/** What an agent is told of a failed call: a stable code, plain words, whether to retry. */
describe('tool results of failed calls', () => {
  afterEach(() => jest.useRealTimers());

  it('keeps a refusal’s code and words; it is not worth retrying', async () => {
    const result = await toolResult('heartbeat', () => {
      throw new AgentRefusal('not_your_task', 'task 7 is not assigned to you');
    });
    expect(failureOf(result)).toEqual({
      isError: true,
      text: 'task 7 is not assigned to you',
      meta: { code: 'not_your_task', message: 'task 7 is not assigned to you', retryable: false },
    });
  });

  it('says unavailable, and when to retry, for a dependency away or a workflow that did not answer', async () => {
    const prisma = Object.assign(
      new Error('Invalid `db.task.findMany()` invocation in /x/db/tasks.ts:217:29'),
      {
        name: 'PrismaClientKnownRequestError',
        code: 'P1001',
      },
    );
    for (const err of [
      prisma,
      new TaskWorkflowUnresponsive('t1', 8000),
      new ClaimOutcomeUnknown('t2'),
      new NoTimeLeftToClaim(),
    ]) {
      const failure = failureOf(await toolResult('heartbeat', () => Promise.reject(err)));
      expect(failure.meta).toMatchObject({
        code: 'unavailable',
        retryable: true,
        retryAfterSeconds: 2,
      });
      expect(failure.text).not.toMatch(/invocation|tasks\.ts|prisma/i);
    }
  });

  it('says internal and nothing of the cause for anything else', async () => {
    const failure = failureOf(
      await toolResult('heartbeat', () =>
        Promise.reject(new TypeError("Cannot read properties of undefined (reading 'id')")),
      ),
    );
    expect(failure.meta).toMatchObject({ code: 'internal', retryable: false });
    expect(failure.text).toBe('internal error; the server logged it');
  });

  it('answers a call still running at its deadline (10 s beyond its wait) as unavailable', async () => {
    jest.useFakeTimers();
    const never = () => new Promise<Record<string, unknown>>(() => undefined);
    const plain = toolResult('heartbeat', never);
    const waiting = toolResult('check_response', never, undefined, 5);
    await jest.advanceTimersByTimeAsync(CALL_DEADLINE_MS);
    const first = failureOf(await plain);
    expect(first.meta).toMatchObject({ code: 'unavailable', retryable: true });
    expect(first.text).toMatch(/did not finish within 10 s.*may still take effect/);
    let settled = false;
    void waiting.then(() => (settled = true));
    await jest.advanceTimersByTimeAsync(4_000);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(failureOf(await waiting).text).toMatch(/within 15 s/);
  });

  it('counts each call by its tool and outcome: ok, or the code the agent was told', async () => {
    const count = async (outcome: string) =>
      (await toolCalls.get()).values.find(
        (v) =>
          v.metricName === 'aiworker_mcp_tool_call_duration_seconds_count' &&
          v.labels.tool === 'release_task' &&
          v.labels.outcome === outcome,
      )?.value ?? 0;
    await toolResult('release_task', () => Promise.resolve({ taskId: 't1' }));
    await toolResult('release_task', () => Promise.reject(new AgentRefusal('task_ended', 'done')));
    expect([await count('ok'), await count('task_ended'), await count('internal')]).toEqual([
      1, 1, 0,
    ]);
  });
});
