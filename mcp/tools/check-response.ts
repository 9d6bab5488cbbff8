import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { toolResult } from './result';

export function registerCheckResponseTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'check_response',
    {
      title: 'Get the answer to your question',
      description:
        'Returns the answer to a question you asked with ask_user_question. With waitSeconds it returns the moment ' +
        'the person answers, or answered: false when the time is up (call it again to keep waiting). If a person ' +
        'cancels the task, it returns an error at once: stop working on that task.',
      inputSchema: {
        taskId: z.string().uuid().describe('Your task'),
        questionId: z
          .string()
          .uuid()
          .optional()
          .describe('The question; defaults to your latest question on the task'),
        waitSeconds: z
          .number()
          .int()
          .min(0)
          .max(60)
          .optional()
          .describe('How long to wait for the answer (0–60)'),
      },
      outputSchema: {
        answered: z.boolean(),
        answer: z.string().optional().describe('The answer, when answered'),
        questionId: z.string(),
      },
    },
    async (input, extra) => toolResult(() => work.checkResponse(input, extra.signal)),
  );
}
