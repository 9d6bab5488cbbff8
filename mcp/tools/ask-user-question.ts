import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { toolResult } from './result';

const INPUT = z.strictObject({
  taskId: z.string().uuid().describe('Your task (from get_next_task)'),
  question: z
    .string()
    .trim()
    .min(1)
    .max(5000)
    .describe('The question, self-contained: people read it on the board'),
});
const OUTPUT = z.object({ questionId: z.string().describe('Pass it to check_response') });

export function registerAskUserQuestionTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'ask_user_question',
    {
      title: 'Ask a person',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      description:
        'Asks the people on the board a question about your task when you cannot proceed without a decision or ' +
        'information only they have. The task waits for the answer; get it with check_response (which can wait for it). ' +
        'Only one question can be open per task. Do not use it for things you can find out yourself.',
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input) => toolResult('ask_user_question', () => work.ask(input)),
  );
}
