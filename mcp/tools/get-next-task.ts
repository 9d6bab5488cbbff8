import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { callLog } from '../logging';
import type { LogLevel } from '../logging';
import { claims } from '../metrics';
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

const task = z.object({
  id: z.string().describe('Task id; pass it to every other tool'),
  title: z.string(),
  description: z.string(),
  projectId: z.string(),
  cloneUrl: z
    .string()
    .nullable()
    .describe(
      "Repository to clone (aiworker's git gateway; your token is the password); null until the project has one",
    ),
  branch: z.string().describe('Branch to push your work to'),
  feedback: z.array(z.string()).describe('Change requests from reviewers, oldest first'),
  answers: z
    .array(
      z.object({ questionId: z.string(), question: z.string(), answer: z.string().nullable() }),
    )
    .describe('Questions asked on this task so far and their answers'),
  resumed: z
    .boolean()
    .describe(
      'true: you already held this task (after a restart or a lost answer): carry on with it',
    ),
  state: z
    .enum(['in_progress', 'needs_input'])
    .describe('needs_input: your question waits for an answer (check_response)'),
});

const INPUT = z.strictObject({
  projectId: z
    .string()
    .uuid()
    .optional()
    .describe('Only take a task of this project (one of yours)'),
  waitSeconds: waitSecondsInput(
    `How long to wait for a task when none is ready: up to ${PLAIN_WAIT_SECONDS} s, or up to ` +
      `${PROGRESS_WAIT_SECONDS} s when you pass a progressToken (a progress notification comes every ` +
      `${PROGRESS_EVERY_MS / 1000} s)`,
  ),
});
const OUTPUT = z.object({
  task: task.nullable().describe('The task now assigned to you, or null if none appeared in time'),
});

export function registerGetNextTaskTool(
  server: McpServer,
  work: AgentWork,
  logLevel: LogLevel | null,
): void {
  server.registerTool(
    'get_next_task',
    {
      title: 'Take the next task',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      description:
        'Assigns you the next task to work on and returns everything you need to start: a task you already hold ' +
        'and have not finished comes back first (resumed: true, e.g. after a restart), then your own tasks sent back ' +
        'for changes, then the highest-priority, oldest backlog task. Call it when you have no task in progress. ' +
        'A task is yours only once you receive the answer: a call you cancel, or whose connection drops, takes none. ' +
        'With waitSeconds it waits for a task to appear instead of returning null at once; do not loop on it quickly. ' +
        'Clone cloneUrl with git using your own aiworker token as the password (any user name), e.g. ' +
        'git -c http.extraHeader="Authorization: Bearer $AIWORKER_AGENT_TOKEN" clone <cloneUrl>; you may push only the ' +
        "task's branch.",
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input, extra) => {
      const log = callLog(extra, logLevel);
      const waitSeconds = allowedWait(input.waitSeconds, extra);
      return await toolResult(
        'get_next_task',
        async () => {
          log(
            'debug',
            `looking for a task${waitSeconds ? `, waiting up to ${waitSeconds} s` : ''}`,
          );
          const task = await keepInformed(extra, 'waiting for a task', () =>
            work.nextTask(
              { ...input, waitSeconds },
              { signal: extra.signal, requestId: extra.requestId },
            ),
          );
          claims.inc({ outcome: !task ? 'empty' : task.resumed ? 'resumed' : 'claimed' });
          if (!task) log('info', 'no task is ready for you');
          else if (task.resumed)
            log('info', `you already hold task ${task.id}: carry on with it`, { taskId: task.id });
          else log('info', `task ${task.id} is yours: ${task.title}`, { taskId: task.id });
          return { task };
        },
        log,
        waitSeconds,
      );
    },
  );
}
