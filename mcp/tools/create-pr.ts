import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { keepInformed } from './keep-informed';
import { toolResult } from './result';

const INPUT = z.strictObject({
  taskId: z.string().uuid().describe('Your task'),
  title: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .describe('PR title; defaults to the task title'),
  description: z
    .string()
    .max(10_000)
    .optional()
    .describe('Notes for the reviewer, added to the generated description'),
});
const OUTPUT = z.object({
  prNumber: z.number().int().describe('The pull request number'),
  prUrl: z.string().describe('Where people read it'),
});

export function registerCreatePrTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'create_pr',
    {
      title: 'Open the pull request',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: true,
      },
      description:
        'Opens a pull request from your task branch into staging, with a description generated from the task, ' +
        'its questions and answers, review feedback and your commits; calling it again updates the open one. ' +
        'Push your commits first. Then call trigger_preview so a person can test and review.',
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input, extra) =>
      toolResult('create_pr', () =>
        keepInformed(extra, 'opening the pull request', () => work.createPullRequest(input)),
      ),
  );
}
