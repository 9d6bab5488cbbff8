import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { toolResult } from './result';

const INPUT = z.strictObject({
  taskId: z.string().uuid().describe('Your task'),
  message: z
    .string()
    .trim()
    .min(1)
    .max(2000)
    .describe('What you have done or are doing, in a sentence or two'),
});
const OUTPUT = z.object({
  taskId: z.string(),
  outcome: z
    .enum(['recorded', 'coalesced'])
    .describe(
      '"recorded": posted now; "coalesced": kept, and posted shortly unless a newer note replaces it',
    ),
});

export function registerReportProgressTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'report_progress',
    {
      title: 'Report progress',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      description:
        'Posts a short note about your progress on your task to the board (e.g. "tests pass, opening the PR"). ' +
        'People follow the task through these notes; it also keeps your lease. Use it at milestones, not for every step: ' +
        'notes sent within a few seconds of the previous one are coalesced (outcome "coalesced"), and only the latest of them is posted, shortly after.',
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input) => toolResult('report_progress', () => work.reportProgress(input)),
  );
}
