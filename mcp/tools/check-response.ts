import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { callLog } from '../logging';
import type { LogLevel } from '../logging';
import type { AgentWork } from '../work';
import {
  allowedWait,
  keepInformed,
  waitSecondsInput,
  PLAIN_WAIT_SECONDS,
  PROGRESS_EVERY_MS,
  PROGRESS_WAIT_SECONDS,
} from './keep-informed';
import { toolResult } from './result';

const INPUT = z.strictObject({
  taskId: z.string().uuid().describe('Your task'),
  questionId: z
    .string()
    .uuid()
    .optional()
    .describe('The question; defaults to your latest question on the task'),
  waitSeconds: waitSecondsInput(
    `How long to wait for the answer: up to ${PLAIN_WAIT_SECONDS} s, or up to ${PROGRESS_WAIT_SECONDS} s when you ` +
      `pass a progressToken (a progress notification comes every ${PROGRESS_EVERY_MS / 1000} s)`,
  ),
});
const OUTPUT = z.object({
  answered: z.boolean(),
  answer: z.string().optional().describe('The answer, when answered'),
  questionId: z.string(),
});

export function registerCheckResponseTool(
  server: McpServer,
  work: AgentWork,
  logLevel: LogLevel | null,
): void {
  server.registerTool(
    'check_response',
    {
      title: 'Get the answer to your question',
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      description:
        'Returns the answer to a question you asked with ask_user_question. With waitSeconds it returns the moment ' +
        'the person answers, or answered: false when the time is up (call it again to keep waiting). If a person ' +
        'cancels the task, it returns an error at once: stop working on that task.',
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input, extra) => {
      const log = callLog(extra, logLevel);
      const waitSeconds = allowedWait(input.waitSeconds, extra);
      return await toolResult(
        'check_response',
        async () => {
          const answer = await keepInformed(extra, 'waiting for the answer', () =>
            work.checkResponse({ ...input, waitSeconds }, extra.signal),
          );
          log(
            'info',
            answer.answered
              ? `question ${answer.questionId} is answered`
              : `question ${answer.questionId} waits for an answer`,
            { taskId: input.taskId, questionId: answer.questionId },
          );
          return answer;
        },
        log,
        waitSeconds,
      );
    },
  );
}
