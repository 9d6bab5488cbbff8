import type { Client } from '@temporalio/client';
import type { ChainableCommander, Redis } from 'ioredis';
import { agentHeartbeatSignal } from '../contracts/messages';
import { taskWorkflowId } from '../contracts/task';

/** Shortest gap between two signs of life an agent's calls send to its task's workflow. */
const HEARTBEAT_SIGNAL_EVERY_MS = 1_000;
/** How long `agent:{id}:status` lives in Redis. */
const STATUS_TTL_SECONDS = 30;

/** Keeps an agent's signs of life on a task to one signal to its workflow per interval. */
const heartbeatKey = (taskId: string, agentId: string) => `task:${taskId}:heartbeat:${agentId}`;

/**
 * An agent's presence: the signs of life that keep its lease on a task (signals to the task's
 * workflow, at most one a second per task), and its status for `GET /api/agents`.
 */
export class AgentPresence {
  constructor(
    private readonly redis: Redis,
    private readonly client: Client,
    private readonly agentId: string,
  ) {}

  /**
   * The agent called on its task: its workflow hears of it, at most once a second per agent and
   * task rather than at every call (leases are at least a second long, and each signal grows
   * the task's history).
   */
  async signOfLife(taskId: string): Promise<void> {
    const due = await this.redis
      .set(heartbeatKey(taskId, this.agentId), '1', 'PX', HEARTBEAT_SIGNAL_EVERY_MS, 'NX')
      .catch(() => 'OK');
    if (due !== 'OK') return;
    await this.client.workflow
      .getHandle(taskWorkflowId(taskId))
      .signal(agentHeartbeatSignal, { agentId: this.agentId })
      .catch(() => undefined);
  }

  /** A claim has just started the lease: the agent's next call on the task need not signal. */
  leaseStarted(tx: ChainableCommander, taskId: string): ChainableCommander {
    return tx.set(heartbeatKey(taskId, this.agentId), '1', 'PX', HEARTBEAT_SIGNAL_EVERY_MS);
  }

  /**
   * Keeps `agent:<id>:status` in Redis (30 s) for `GET /api/agents`: online while it calls,
   * with what it works on. The boards' `agent:status` events come from the task workflows,
   * which log them when an agent takes a task or stops working on it.
   */
  async setStatus(status: 'working' | 'idle', currentTaskId: string | null): Promise<void> {
    const payload = { agentId: this.agentId, status, currentTaskId };
    await this.redis
      .set(
        `agent:${this.agentId}:status`,
        JSON.stringify({ ...payload, at: new Date().toISOString() }),
        'EX',
        STATUS_TTL_SECONDS,
      )
      .catch(() => undefined);
  }
}
