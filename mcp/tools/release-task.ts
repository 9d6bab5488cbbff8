import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { toolResult } from './result';

const INPUT = z.strictObject({
  taskId: z.string().uuid().describe('Your task'),
  reason: z.string().max(500).optional().describe('Why, for the people on the board'),
});
const OUTPUT = z.object({ taskId: z.string(), state: z.string() });

export function registerReleaseTaskTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'release_task',
    {
      title: 'Give a task back',
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
      description:
        'Returns your task to the backlog so another agent can take it, keeping its history. Use it when you cannot ' +
        'finish the task; not while you wait for an answer (the task waits for you then).',
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input) => toolResult('release_task', () => work.release(input)),
  );
}
