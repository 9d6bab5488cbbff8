import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import { dueTaskStarts, forgetTaskStarts } from '../db/task-starts';
import type { Logger } from '../platform/logger';
import { startTaskWorkflow } from '../platform/task-start';

export interface TaskStartSweepDeps {
  client: Client;
  db: Db;
  logger: Logger;
  taskQueue: string;
}

/**
 * How old a recorded start must be before the sweep makes it: the API starts its tasks' workflows
 * right after writing them (a batch may take up to two minutes); a start made twice is harmless.
 */
export const TASK_START_GRACE_MS = 30_000;

/** Most starts one sweep makes; the next sweep goes on. */
const SWEEP_LIMIT = 500;

/**
 * Starts the workflows of tasks the API wrote but did not start: its process died in between, or
 * Temporal was away. A workflow that runs (or ran) already is left as it is. Each start made is
 * forgotten; a sweep that fails half way (Temporal still away) is picked up by the next one.
 * Answers the ids of the tasks whose workflows it made sure of.
 */
export async function startLeftTasks(
  deps: TaskStartSweepDeps,
  graceMs = TASK_START_GRACE_MS,
): Promise<string[]> {
  const due = await dueTaskStarts(deps.db, new Date(Date.now() - graceMs), SWEEP_LIMIT);
  const started: string[] = [];
  try {
    for (const input of due) {
      await startTaskWorkflow(deps.client, deps.taskQueue, input);
      started.push(input.task.id);
    }
  } finally {
    await forgetTaskStarts(deps.db, started);
    if (started.length > 0) {
      deps.logger.info(
        { tasks: started.length, taskIds: started.slice(0, 20) },
        'started the workflows of tasks written without one (an API process stopped, or Temporal was away)',
      );
    }
  }
  return started;
}
