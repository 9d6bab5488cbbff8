import { z } from 'zod';

/** Every state a task can be in (docs/architecture.md, "The task workflow"). Same names as the MySQL enum. */
export const TASK_STATES = [
  'backlog',
  'in_progress',
  'needs_input',
  'ready_to_test',
  'changes_requested',
  'approved',
  'staging',
  'cancelled',
] as const;

export const taskStateSchema = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof taskStateSchema>;
