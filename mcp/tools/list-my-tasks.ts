import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { HELD_STATES } from '../work';
import type { AgentWork } from '../work';
import { toolResult } from './result';

const heldTask = z.object({
  id: z.string(),
  title: z.string(),
  projectId: z.string(),
  state: z
    .enum(HELD_STATES)
    .describe(
      'in_progress: yours to work on; needs_input: your question waits (check_response); ready_to_test and ' +
        'approved: with the people; changes_requested: take it again with get_next_task and apply the feedback',
    ),
  openQuestion: z
    .object({ questionId: z.string(), question: z.string() })
    .nullable()
    .describe('Your question still waiting for an answer, if any'),
  feedback: z.array(z.string()).describe('Change requests from reviewers, oldest first'),
  branch: z.string().nullable(),
  prUrl: z.string().nullable(),
  previewUrl: z.string().nullable(),
});

const INPUT = z.strictObject({});
const OUTPUT = z.object({ tasks: z.array(heldTask) });

export function registerListMyTasksTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'list_my_tasks',
    {
      title: 'List your tasks',
      description:
        'Lists the tasks assigned to you that have not ended (in progress, waiting for an answer, under review, ' +
        'sent back for changes, approved), oldest first, with each one’s open question, feedback, branch, pull ' +
        'request and preview. Use it after a restart to see what you hold. Answers at once; changes nothing.',
      inputSchema: INPUT,
      outputSchema: OUTPUT,
      annotations: {
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async () => toolResult('list_my_tasks', async () => ({ tasks: await work.myTasks() })),
  );
}
