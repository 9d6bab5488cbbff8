import type { Client, WorkflowClient } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * Running workflows of a task queue that Temporal flags with repeated workflow task failures
 * (`TemporalReportedProblems`, the Web UI's "Task Failures" view), optionally of one type.
 * Visibility is eventually consistent: this reports what Temporal saw a moment ago, and nothing
 * is decided from it without asking the workflow itself.
 */
export function failingWorkflowsQuery(taskQueue: string, workflowType?: string): string {
  const type = workflowType ? ` AND WorkflowType = '${workflowType}'` : '';
  return (
    `ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'${type} ` +
    `AND TemporalReportedProblems IS NOT NULL`
  );
}

/** A workflow Temporal reports with repeated workflow task failures. */
export interface FailingWorkflow {
  workflowId: string;
  workflowType: string;
  runId: string;
  /** Temporal's own report, e.g. `cause=WorkflowTaskFailedCauseNonDeterministicError`. */
  problems: string[];
}

/** How many workflows of the task queue Temporal reports failing, and the first `limit` of them. */
export async function failingWorkflows(
  client: Client,
  taskQueue: string,
  limit = 100,
): Promise<{ count: number; workflows: FailingWorkflow[] }> {
  const query = failingWorkflowsQuery(taskQueue);
  const { count } = await client.workflow.count(query);
  const workflows: FailingWorkflow[] = [];
  for await (const wf of client.workflow.list({ query, pageSize: limit })) {
    const problems = wf.searchAttributes?.TemporalReportedProblems;
    workflows.push({
      workflowId: wf.workflowId,
      workflowType: wf.type,
      runId: wf.runId,
      problems: Array.isArray(problems) ? problems.map(String) : [],
    });
    if (workflows.length >= limit) break;
  }
  return { count, workflows };
}

const Cause = temporal.api.enums.v1.WorkflowTaskFailedCause;
/** Workflow task failures that mean the workflow code cannot run the history: they recur on every attempt. */
const CODE_FAILURES = new Set<number>([
  Cause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
  Cause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
]);

/** Whether a workflow task failure means the workflow code cannot run its history (it recurs). */
export function isCodeFailure(cause: number | null | undefined): boolean {
  return cause !== null && cause !== undefined && CODE_FAILURES.has(cause);
}

/** What a workflow whose workflow task keeps failing last failed with. */
export interface WorkflowTaskFailure {
  runId: string;
  /** The attempt Temporal is on (2 or more). */
  attempt: number;
  cause: temporal.api.enums.v1.WorkflowTaskFailedCause | null;
  /** Temporal's or the SDK's own words, for logs (never for clients). */
  message: string | null;
  /** The workflow code cannot run its history (nondeterminism, or an error thrown every time). */
  codeFailure: boolean;
}

/**
 * Whether a workflow's pending workflow task is past its first attempt, and what it failed with:
 * the first failure of a streak is in the history (later attempts are not recorded), so the
 * last few events are read backwards. Null when the workflow runs normally or is closed.
 */
export async function workflowTaskFailure(
  client: WorkflowClient,
  workflowId: string,
): Promise<WorkflowTaskFailure | null> {
  const described = await client.getHandle(workflowId).describe();
  const attempt = described.raw.pendingWorkflowTask?.attempt ?? 0;
  if (described.status.name !== 'RUNNING' || attempt < 2) return null;
  const page = await client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: client.options.namespace,
    execution: { workflowId, runId: described.runId },
    maximumPageSize: 20,
  });
  const failed = page.history?.events?.find(
    (e) => e.workflowTaskFailedEventAttributes,
  )?.workflowTaskFailedEventAttributes;
  const cause = failed?.cause ?? null;
  return {
    runId: described.runId,
    attempt,
    cause,
    message: failed?.failure?.message ?? null,
    codeFailure: isCodeFailure(cause),
  };
}
