import { Counter, Histogram } from 'prom-client';
import { registry, SECONDS_BUCKETS } from '../platform/metrics';

/** The MCP calls that wait for a change (`TaskWakeups`). */
export type LongPoll = 'get_next_task' | 'check_response';

/** Tool calls by tool and outcome: `ok`, or the failure's code (`AgentFailure.code`). */
export const toolCalls = new Histogram({
  name: 'aiworker_mcp_tool_call_duration_seconds',
  help: 'MCP tool calls by tool and outcome (ok, or the code of the failure the agent was given), with their duration',
  labelNames: ['tool', 'outcome'] as const,
  buckets: SECONDS_BUCKETS,
  registers: [registry],
});

/** `get_next_task` answers: a task newly claimed, one the agent held handed over again, or none. */
export const claims = new Counter({
  name: 'aiworker_mcp_claims_total',
  help: 'get_next_task answers: claimed (a task newly assigned), resumed (one the agent already held), empty (none came in time)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Each wait of a long poll, by call and how it ended. */
export const longPollWaits = new Histogram({
  name: 'aiworker_mcp_long_poll_wait_seconds',
  help: 'Time long-polling MCP calls spent waiting for a change, per wait: woken (a change came), timed_out, cancelled',
  labelNames: ['call', 'ended'] as const,
  buckets: SECONDS_BUCKETS,
  registers: [registry],
});
