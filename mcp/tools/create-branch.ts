import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { toolResult } from './result';

const INPUT = z.strictObject({
  taskId: z.string().uuid().describe('Your task (from get_next_task)'),
});
const OUTPUT = z.object({
  branch: z.string().describe('The branch to push your commits to'),
  cloneUrl: z
    .string()
    .describe(
      "Clone and push with this URL (aiworker's git gateway); it carries no credentials: send your token",
    ),
});

export function registerCreateBranchTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'create_branch',
    {
      title: 'Create the task branch',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: true,
      },
      description:
        "Creates your task's branch (task-<id>-feature, from staging) on the project's forge, or finds it if it " +
        'exists, and returns the URL to clone and push with. Call it before you push; then commit, push to that ' +
        'branch, and call create_pr and trigger_preview. git authenticates to that URL with your own aiworker ' +
        'token as the password (any user name), e.g. git -c http.extraHeader="Authorization: Bearer $AIWORKER_AGENT_TOKEN" ' +
        'push <cloneUrl> HEAD:refs/heads/<branch>. Only that branch of your task is accepted: pushes to staging, ' +
        "other tasks' branches, tags, and branch deletions are refused.",
      inputSchema: INPUT,
      outputSchema: OUTPUT,
    },
    async (input) => toolResult('create_branch', () => work.createBranch(input)),
  );
}
