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
  waitSeconds: waitSecondsInput(
    `How long this call waits for the deploy: default ${PLAIN_WAIT_SECONDS} s; at most ` +
      `${PLAIN_WAIT_SECONDS} s, or ${PROGRESS_WAIT_SECONDS} s with a progressToken`,
  ),
});
const OUTPUT = z.object({
  status: z
    .enum(['ready', 'deploying'])
    .describe('ready: the preview serves and the task is in review; deploying: call again to wait'),
  previewUrl: z
    .string()
    .nullable()
    .describe('Where the preview of your branch answers, once ready'),
});

export function registerTriggerPreviewTool(
  server: McpServer,
  work: AgentWork,
  logLevel: LogLevel | null,
): void {
  server.registerTool(
    'trigger_preview',
    {
      title: 'Deploy a preview and hand in for review',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: true,
      },
      description:
        'Deploys the head of your task branch as a preview and, once it serves, hands the task in for review ' +
        '(ready_to_test). A deploy can take minutes while the app installs and starts. The call waits for it up to ' +
        `waitSeconds (default ${PLAIN_WAIT_SECONDS} s; up to ${PROGRESS_WAIT_SECONDS} s when you pass a progressToken: a ` +
        `progress notification comes every ${PROGRESS_EVERY_MS / 1000} s). If the deploy is still running then, it ` +
        'answers status "deploying" and the deploy goes on: call trigger_preview again to wait for that same deploy ' +
        '(it does not start another). status "ready" gives the previewUrl; a failed deploy is an error saying why. ' +
        'Call it when your work is pushed and the pull request is open; after changes are requested, push again and ' +
        'call it again.',
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input, extra) => {
      const log = callLog(extra, logLevel);
      // By default within the SDK's default timeout, progress token or not: a longer wait is
      // the agent's choice (with a progress token and a client that resets its timeout on it).
      const waitSeconds = allowedWait(input.waitSeconds ?? PLAIN_WAIT_SECONDS, extra)!;
      return await toolResult(
        'trigger_preview',
        async () => {
          log('info', `deploying the preview of task ${input.taskId}`, { taskId: input.taskId });
          const outcome = await keepInformed(extra, 'deploying the preview', () =>
            work.triggerPreview(
              { taskId: input.taskId },
              { waitMs: waitSeconds * 1000, signal: extra.signal },
            ),
          );
          log(
            'info',
            outcome.status === 'ready'
              ? `the preview serves at ${outcome.previewUrl}; the task is in review`
              : `the deploy is still running after ${waitSeconds} s: call trigger_preview again to wait for it`,
            { taskId: input.taskId },
          );
          return outcome;
        },
        log,
        waitSeconds,
      );
    },
  );
}
