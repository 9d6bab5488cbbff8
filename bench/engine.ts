// The engine's own rates on the benchmark's Temporal server, measured in the same run as
// aiworker's figures so that each can be printed as a ratio: bare workflow starts, updates, and
// updates whose handler runs an activity, each on a different workflow, `concurrency` at a time.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { touchAndRunUpdate, touchMarkAndRunUpdate, touchUpdate } from './engine-workflows';
import { cpuSince, machineBusySince, pool } from './stack';

// The in-process worker's own log lines would drown the figures.
Runtime.install({ logger: new DefaultLogger('WARN') });

export interface EngineRates {
  startsPerSecond: number;
  updatesPerSecond: number;
  updateActivityPerSecond: number;
  /** CPU milliseconds per update + activity: the server's, and this process's (its worker). */
  updateActivityCpuMs: { server: number; worker: number };
  /**
   * Updates whose handler records the two search attributes a claim changes (the task's state
   * and agent), then runs the activity: the engine doing what a claim asks of Temporal.
   */
  markedUpdateActivityPerSecond: number;
  /** The share of the machine's CPU busy while the updates with an activity ran (0–1). */
  updateActivityMachineBusy: number;
  /**
   * Updates with an activity on workflows started first, `count` of them, by a worker that caches
   * only `cachedWorkflows` (aiworker's own setting), in the order they were started: as with a
   * backlog's tasks, most have left the cache and are replayed from their history first.
   */
  coldUpdateActivityPerSecond: number;
  coldUpdateActivityCpuMs: { server: number; worker: number };
}

export async function measureEngine(
  address: string,
  count: number,
  concurrency: number,
  serverPid: number,
  cachedWorkflows: number,
): Promise<EngineRates> {
  const native = await NativeConnection.connect({ address });
  const newWorker = async (maxCachedWorkflows?: number) => {
    const queue = `engine-${randomUUID()}`;
    const created = await Worker.create({
      connection: native,
      taskQueue: queue,
      workflowsPath: path.join(__dirname, 'engine-workflows.ts'),
      activities: { noop: () => Promise.resolve() },
      ...(maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows }),
    });
    return { worker: created, taskQueue: queue, running: created.run() };
  };
  const { worker, taskQueue, running } = await newWorker();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  try {
    const start = async (ids: string[], queue = taskQueue) =>
      await pool(count, concurrency, async (i) => {
        await client.workflow.start('engineWorkflow', { taskQueue: queue, workflowId: ids[i]! });
      });
    const newIds = () => Array.from({ length: count }, () => `engine-${randomUUID()}`);
    const measureCold = async (cache: number) => {
      const small = await newWorker(cache);
      try {
        const coldIds = newIds();
        await start(coldIds, small.taskQueue);
        // Every workflow has run its first workflow task (started, scheduled, started, completed)
        // before the updates begin, so the cache holds only the last ones started.
        await pool(count, concurrency, async (i) => {
          const handle = client.workflow.getHandle(coldIds[i]!);
          while ((await handle.describe()).historyLength < 4) {
            await new Promise((r) => setTimeout(r, 50));
          }
        });
        const coldSpent = cpuSince({ server: serverPid, worker: process.pid });
        const coldSeconds = await pool(count, concurrency, async (i) => {
          await client.workflow.getHandle(coldIds[i]!).executeUpdate(touchAndRunUpdate);
        });
        const used = coldSpent();
        return {
          coldUpdateActivityPerSecond: count / coldSeconds,
          coldUpdateActivityCpuMs: {
            server: (1000 * used.server) / count,
            worker: (1000 * used.worker) / count,
          },
        };
      } finally {
        small.worker.shutdown();
        await small.running;
      }
    };
    const ids = newIds();
    const startSeconds = await start(ids);
    const updateSeconds = await pool(count, concurrency, async (i) => {
      await client.workflow.getHandle(ids[i]!).executeUpdate(touchUpdate);
    });
    const spent = cpuSince({ server: serverPid, worker: process.pid });
    const busy = machineBusySince();
    const activitySeconds = await pool(count, concurrency, async (i) => {
      await client.workflow.getHandle(ids[i]!).executeUpdate(touchAndRunUpdate);
    });
    const { server, worker: own } = spent();
    const updateActivityMachineBusy = busy();
    const marked = newIds();
    await start(marked);
    const markedSeconds = await pool(count, concurrency, async (i) => {
      await client.workflow.getHandle(marked[i]!).executeUpdate(touchMarkAndRunUpdate);
    });
    const cold = await measureCold(cachedWorkflows);
    return {
      ...cold,
      markedUpdateActivityPerSecond: count / markedSeconds,
      updateActivityMachineBusy,
      updateActivityCpuMs: { server: (1000 * server) / count, worker: (1000 * own) / count },
      startsPerSecond: count / startSeconds,
      updatesPerSecond: count / updateSeconds,
      updateActivityPerSecond: count / activitySeconds,
    };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await native.close();
  }
}

/** `label: 12.3/s (0.45× the engine's 27.3/s for what)`. */
export function versus(label: string, rate: number, engine: number, what: string): string {
  return `${label}: ${rate.toFixed(1)}/s — the engine's ${what} ${engine.toFixed(1)}/s, ratio ${(rate / engine).toFixed(2)}`;
}
