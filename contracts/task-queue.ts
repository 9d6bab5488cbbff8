/** The Temporal task queue that every aiworker worker polls and every client starts work on. */
export const TASK_QUEUE = 'aiworker';
