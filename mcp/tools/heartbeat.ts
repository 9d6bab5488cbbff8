import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { spoken } from '../spoken';
import { toolResult } from './result';

const INPUT = z.strictObject({ taskId: z.string().uuid().describe('Your task') });
const OUTPUT = z.object({ taskId: z.string(), state: z.string().describe("The task's state") });

export function registerHeartbeatTool(server: McpServer, work: AgentWork, leaseMs: number): void {
  server.registerTool(
    'heartbeat',
    {
      title: 'Keep your task',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      description:
        `Tells aiworker you are still working on your task. Your lease is ${spoken(leaseMs)}: a task with no call ` +
        'on it for that long returns to the backlog. Every other tool call on the task renews it too; during long ' +
        `stretches without them, call heartbeat at least every ${spoken(leaseMs / 3)}.`,
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input) => toolResult('heartbeat', () => work.heartbeat(input)),
  );
}
