/** Thrown by `loadConfig` when the environment holds values aiworker cannot run with; lists every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Thrown by the migration runner when a migration cannot be applied or the history disagrees with the files. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/**
 * Thrown by `executeTaskUpdate` when a task's workflow cannot take an update because its
 * workflow task fails on every attempt (typically a worker whose code cannot replay the task's
 * history). Temporal keeps retrying it; the task is reported stuck until it recovers.
 */
export class TaskWorkflowStuck extends Error {
  constructor(readonly taskId: string) {
    super(
      `task ${taskId} cannot change now: its workflow fails every time it runs and Temporal keeps ` +
        'retrying it; operators see it in GET /api/health/workflows. Try again later',
    );
    this.name = 'TaskWorkflowStuck';
  }
}

/**
 * Thrown by `executeTaskUpdate` when a task's workflow did not take an update in time (no worker
 * polls the task queue, or the workers are overloaded). Nothing is known to have changed.
 */
export class TaskWorkflowUnresponsive extends Error {
  constructor(
    readonly taskId: string,
    deadlineMs: number,
  ) {
    super(
      `task ${taskId} did not answer within ${deadlineMs / 1000} s (no worker may be running, or ` +
        'they are overloaded); try again shortly',
    );
    this.name = 'TaskWorkflowUnresponsive';
  }
}
