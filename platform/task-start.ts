import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { projectIdKey, taskStateKey } from '../contracts/search-attributes';
import { taskWorkflowId } from '../contracts/task';
import type { TaskWorkflowInput } from '../contracts/task';
import type { taskWorkflow } from '../workflows/task';

/** How a task workflow is started: its id, queue, input and first search attributes. */
export function taskWorkflowStartOptions(taskQueue: string, input: TaskWorkflowInput) {
  return {
    workflowId: taskWorkflowId(input.task.id),
    taskQueue,
    args: [input] as [TaskWorkflowInput],
    typedSearchAttributes: [
      { key: taskStateKey, value: 'backlog' },
      { key: projectIdKey, value: input.task.projectId },
    ],
  };
}

/**
 * Starts a task's workflow once: a start sent again finds the workflow running, or ended (a task
 * cancelled or staged is never started again), and does nothing.
 */
export async function startTaskWorkflow(
  client: Client,
  taskQueue: string,
  input: TaskWorkflowInput,
): Promise<void> {
  try {
    await client.workflow.start<typeof taskWorkflow>('taskWorkflow', {
      ...taskWorkflowStartOptions(taskQueue, input),
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
