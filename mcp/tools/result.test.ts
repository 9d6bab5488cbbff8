import { TaskWorkflowUnresponsive } from '../../platform/errors';
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
    const result = await toolResult(() => {
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
    for (const err of [prisma, new TaskWorkflowUnresponsive('t1', 8000)]) {
      const failure = failureOf(await toolResult(() => Promise.reject(err)));
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
      await toolResult(() =>
        Promise.reject(new TypeError("Cannot read properties of undefined (reading 'id')")),
      ),
    );
    expect(failure.meta).toMatchObject({ code: 'internal', retryable: false });
    expect(failure.text).toBe('internal error; the server logged it');
  });

  it('answers a call still running at its deadline (10 s beyond its wait) as unavailable', async () => {
    jest.useFakeTimers();
    const never = () => new Promise<Record<string, unknown>>(() => undefined);
    const plain = toolResult(never);
    const waiting = toolResult(never, undefined, 5);
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
});
