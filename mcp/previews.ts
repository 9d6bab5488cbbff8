import { randomUUID } from 'node:crypto';
import type { Client, WorkflowUpdateHandle } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Actor } from '../contracts/actor';
import { triggerPreviewUpdate } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';
import type { TaskRecord } from '../contracts/task';
import type { Db } from '../db/client';
import { findTask } from '../db/tasks';
import { startLongTaskUpdate } from '../platform/task-updates';
import { refusalOf } from './refusals';

/** Where the running deploy of a task's preview is found: its update's id and run. */
const previewKey = (taskId: string) => `mcp:preview:${taskId}`;
/** Longer than any deploy takes (a 10-minute install, 3 minutes to answer, and retries). */
const PREVIEW_KEY_SECONDS = 2 * 3600;

/** A running deploy: the `triggerPreview` update that runs it. */
interface DeployRef {
  updateId: string;
  runId?: string;
}

/** How `trigger_preview` ends: the preview serves, or it is still deploying. */
export type PreviewOutcome =
  { status: 'ready'; previewUrl: string } | { status: 'deploying'; previewUrl: null };

/**
 * Preview deploys as agents see them: a call starts the deploy (the task workflow's
 * `triggerPreview` update) and waits for it as long as the call may; a deploy that takes longer
 * keeps running, and the agent's next `trigger_preview` on the task waits for that same deploy
 * instead of starting another. Which update runs a task's deploy is kept in Redis, by the
 * update's id: Temporal keeps its outcome, whichever API process asks.
 */
export class PreviewDeploys {
  constructor(
    private readonly deps: { client: Client; db: Db; redis: Redis },
    private readonly agentId: string,
    private readonly actor: Actor,
  ) {}

  async deploy(task: TaskRecord, waitMs: number, signal: AbortSignal): Promise<PreviewOutcome> {
    let current: TaskRecord | undefined = task;
    for (let attempt = 0; attempt < 3 && current; attempt += 1) {
      const running = await this.running(current.id);
      // Handed in already (a deploy this agent stopped waiting for has finished since).
      if (!running && current.state === 'ready_to_test' && current.previewUrl) {
        return { status: 'ready', previewUrl: current.previewUrl };
      }
      const started = running ? null : await this.start(current.id);
      const ref = running ?? started?.ref;
      if (!ref) continue; // another call of the agent started one just now: wait for that one
      const outcome = await this.outcome(current.id, ref, waitMs, signal, started?.update);
      if (outcome !== 'gone') return outcome;
      // Its outcome can no longer be read (the workflow has moved to a new run): the task says.
      await this.forget(current.id, ref);
      current = await findTask(this.deps.db, current.id);
    }
    throw new Error(`the preview deploy of task ${task.id} could not be followed`);
  }

  private async running(taskId: string): Promise<DeployRef | null> {
    const stored = await this.deps.redis.get(previewKey(taskId)).catch(() => null);
    return stored ? (JSON.parse(stored) as DeployRef) : null;
  }

  /**
   * Starts a deploy; null when another call of the agent has just started one. The update's own
   * handle comes back too: it alone knows a rejection (the task's state does not allow a deploy),
   * which Temporal does not keep for a handle made later from the update's id.
   */
  private async start(
    taskId: string,
  ): Promise<{ ref: DeployRef; update: WorkflowUpdateHandle<{ previewUrl: string }> } | null> {
    const ref: DeployRef = { updateId: `preview-${randomUUID()}` };
    const key = previewKey(taskId);
    const first = await this.deps.redis
      .set(key, JSON.stringify(ref), 'EX', PREVIEW_KEY_SECONDS, 'NX')
      .catch(() => 'OK');
    if (first !== 'OK') return null;
    const handle = this.deps.client.workflow.getHandle(taskWorkflowId(taskId));
    try {
      const started = await startLongTaskUpdate(handle, triggerPreviewUpdate, ref.updateId, {
        agentId: this.agentId,
        actor: this.actor,
      });
      const withRun = { ...ref, runId: started.workflowRunId };
      await this.deps.redis
        .set(key, JSON.stringify(withRun), 'EX', PREVIEW_KEY_SECONDS)
        .catch(() => undefined);
      return { ref: withRun, update: started };
    } catch (err) {
      await this.forget(taskId, ref);
      throw await refusalOf(this.deps.db, taskId, handle, err);
    }
  }

  /** The deploy's outcome, if it comes within `waitMs`; `gone` if it can no longer be read. */
  private async outcome(
    taskId: string,
    ref: DeployRef,
    waitMs: number,
    signal: AbortSignal,
    started?: WorkflowUpdateHandle<{ previewUrl: string }>,
  ): Promise<PreviewOutcome | 'gone'> {
    const { client } = this.deps;
    const handle = client.workflow.getHandle(taskWorkflowId(taskId));
    const update =
      started ??
      handle.getUpdateHandle<{ previewUrl: string }>(ref.updateId, {
        ...(ref.runId ? { workflowRunId: ref.runId } : {}),
      });
    // A timer of our own: a timeout signal that only AbortSignal.any refers to can be collected
    // before it fires.
    const timeUp = new AbortController();
    const timer = setTimeout(() => timeUp.abort(), waitMs);
    const waited = AbortSignal.any([signal, timeUp.signal]);
    try {
      const { previewUrl } = await client.connection.withAbortSignal(waited, () => update.result());
      await this.forget(taskId, ref);
      return { status: 'ready', previewUrl };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        await this.forget(taskId, ref);
        throw await refusalOf(this.deps.db, taskId, handle, err);
      }
      if (waited.aborted) return { status: 'deploying', previewUrl: null };
      if (err instanceof WorkflowNotFoundError) return 'gone';
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The deploy has ended: the next `trigger_preview` starts a new one. */
  private async forget(taskId: string, ref: DeployRef): Promise<void> {
    const stored = await this.running(taskId);
    if (stored?.updateId === ref.updateId) {
      await this.deps.redis.del(previewKey(taskId)).catch(() => undefined);
    }
  }
}
