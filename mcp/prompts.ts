import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { GetPromptResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AgentRefusal } from './refusals';
import { clearFailures, requestFailure } from './tools/result';
import { spoken } from './spoken';
import { taskUri } from './resources';
import type { AgentWork } from './work';

/** How an agent works with aiworker, from taking a task to handing it in. */
function walkThrough(leaseMs: number): string {
  return [
    'You work for aiworker: people put tasks on a board, you take them, and people review your work.',
    '',
    '1. Take a task: call get_next_task (with waitSeconds to wait for one). If it says resumed: true, you already ' +
      'held it: carry on where you were. A task is yours only once you have its answer.',
    '2. Read it: the task’s description, and its answers and feedback if it was sent back to you. Read ' +
      'aiworker://tasks/{id} for the whole task at any time.',
    '3. When you cannot go on without a person’s decision, ask with ask_user_question (one open question per ' +
      'task), then wait for the answer with check_response and waitSeconds; call it again while answered is false.',
    '4. Deliver: create_branch gives your branch and where to push. Clone and push with git using your own ' +
      'aiworker token as the password; you may push only that branch. Then create_pr opens the pull request.',
    '5. Hand in: trigger_preview deploys your branch and, once it serves, puts the task in review. If it answers ' +
      'status "deploying", call it again to keep waiting for the same deploy.',
    `6. Keep your task: your lease is ${spoken(leaseMs)}. Every call on the task renews it; in long stretches ` +
      `without calls, call heartbeat at least every ${spoken(leaseMs / 3)}. Tell the board how it goes with ` +
      'report_progress at milestones.',
    '7. If people request changes, the task comes back to you through get_next_task with their feedback: push ' +
      'again and call trigger_preview again. If you cannot finish a task, give it back with release_task.',
    '8. A refused call says why, with a code in _meta["aiworker/error"]: task_ended means stop working on that ' +
      'task; not_your_task means use list_my_tasks to see what you hold.',
  ].join('\n');
}

/** The `work_on_task` prompt: the whole flow, and the task itself when one is named. */
export function registerPrompts(server: McpServer, work: AgentWork, leaseMs: number): void {
  server.registerPrompt(
    'work_on_task',
    {
      title: 'Work on an aiworker task',
      description:
        'Walks you through the whole flow of a task: take it, ask people, branch, push, open the pull request, ' +
        'deploy the preview, and keep your lease. Name one of your tasks to start from it.',
      argsSchema: {
        taskId: completable(
          z
            .string()
            .uuid()
            .optional()
            .describe('One of your tasks; leave it out to take the next one'),
          async (value) => {
            const held = await clearFailures(() => work.heldTaskIds());
            return held.map((t) => t.id).filter((id) => id.startsWith(value ?? ''));
          },
        ),
      },
    },
    async ({ taskId }): Promise<GetPromptResult> => {
      const steps = walkThrough(leaseMs);
      if (!taskId) {
        return {
          description: 'How to work on aiworker tasks',
          messages: [
            {
              role: 'user',
              content: { type: 'text', text: `${steps}\n\nStart now: call get_next_task.` },
            },
          ],
        };
      }
      const details = await work.taskDetails(taskId).catch((err: unknown) => {
        if (err instanceof AgentRefusal) {
          throw new McpError(ErrorCode.InvalidParams, `you have no task ${taskId}`);
        }
        throw requestFailure(err);
      });
      return {
        description: `Work on task ${details.id}: ${details.title}`,
        messages: [
          {
            role: 'user',
            content: {
              type: 'resource',
              resource: {
                uri: taskUri(details.id),
                mimeType: 'application/json',
                text: JSON.stringify(details, null, 2),
              },
            },
          },
          {
            role: 'user',
            content: {
              type: 'text',
              text: `${steps}\n\nYour task is ${details.id} (“${details.title}”), now ${details.state}; its details are above. Carry on with it.`,
            },
          },
        ],
      };
    },
  );
}
