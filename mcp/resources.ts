import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { AgentRefusal } from './refusals';
import { clearFailures, requestFailure } from './tools/result';
import type { AgentWork } from './work';

/** What a task id looks like: `aiworker://tasks/{id}` names nothing else. */
const TASK_ID = z.string().uuid();

/** Where a task is read as a resource. */
export const TASK_URI_TEMPLATE = 'aiworker://tasks/{id}';
export const taskUri = (taskId: string) => `aiworker://tasks/${taskId}`;

/** MCP's code for a resource that does not exist (specification, "Resources", error handling). */
const RESOURCE_NOT_FOUND = -32002;

/**
 * The agent's tasks as resources: `resources/list` lists the tasks it holds (not ended), and
 * `aiworker://tasks/{id}` reads one of them in full (details, questions and answers, feedback,
 * its pull request with a diff summary). Another agent's task reads as not found.
 */
export function registerTaskResources(server: McpServer, work: AgentWork): void {
  server.registerResource(
    'task',
    new ResourceTemplate(TASK_URI_TEMPLATE, {
      list: async () => {
        const tasks = await clearFailures(() => work.myTasks());
        return {
          resources: tasks.map((t) => ({
            uri: taskUri(t.id),
            name: t.title,
            title: t.title,
            description: `Your task, ${t.state}`,
            mimeType: 'application/json',
          })),
        };
      },
      complete: {
        id: async (value) => {
          const held = await clearFailures(() => work.heldTaskIds());
          return held.map((t) => t.id).filter((id) => id.startsWith(value));
        },
      },
    }),
    {
      title: 'One of your tasks',
      description:
        'A task assigned to you, in full: title, description, state, questions and answers, reviewers’ ' +
        'feedback, branch, pull request (with a diff summary for local repositories) and preview. ' +
        'Reading it changes nothing.',
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const id = String(variables.id ?? '');
      try {
        // Only a task id can name a task: anything else is not found, unread.
        if (!TASK_ID.safeParse(id).success) throw new AgentRefusal('unknown_task', 'no such task');
        const details = await work.taskDetails(id);
        return {
          contents: [
            { uri: uri.href, mimeType: 'application/json', text: JSON.stringify(details, null, 2) },
          ],
        };
      } catch (err) {
        // Not the agent's (or no such task): not found, as MCP names it.
        if (err instanceof AgentRefusal) {
          throw requestFailure(
            new AgentRefusal('unknown_task', `no task of yours at ${uri.href}`),
            RESOURCE_NOT_FOUND,
            { uri: uri.href },
          );
        }
        throw requestFailure(err);
      }
    },
  );
}
