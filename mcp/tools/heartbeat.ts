import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { toolResult } from './result';

export function registerHeartbeatTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'heartbeat',
    {
      title: 'Keep your task',
      description:
        'Tells aiworker you are still working on your task. Every other tool call on the task does this too; call ' +
        'heartbeat only during long stretches without them, or the task returns to the backlog when your lease ends.',
      inputSchema: { taskId: z.string().uuid().describe('Your task') },
      outputSchema: { taskId: z.string(), state: z.string().describe("The task's state") },
    },
    async (input) => toolResult(() => work.heartbeat(input)),
  );
}
