import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerAskUserQuestionTool } from './tools/ask-user-question';
import { registerCheckResponseTool } from './tools/check-response';
import { registerCreateBranchTool } from './tools/create-branch';
import { registerCreatePrTool } from './tools/create-pr';
import { registerGetNextTaskTool } from './tools/get-next-task';
import { registerHeartbeatTool } from './tools/heartbeat';
import { registerListMyTasksTool } from './tools/list-my-tasks';
import { registerReleaseTaskTool } from './tools/release-task';
import { registerReportProgressTool } from './tools/report-progress';
import { registerTriggerPreviewTool } from './tools/trigger-preview';
import type { AgentWork } from './work';

/** aiworker's MCP server for one authenticated agent, with every agent tool registered. */
export function createServer(work: AgentWork, leaseMs: number): McpServer {
  const server = new McpServer(
    { name: 'aiworker', version: '0.1.0' },
    {
      instructions:
        'You are an agent of aiworker. Take a task with get_next_task, work on it, ask people with ' +
        'ask_user_question when you are stuck and wait for the answer with check_response. Deliver with ' +
        'create_branch, git push, create_pr and trigger_preview; report milestones with report_progress.',
    },
  );
  registerGetNextTaskTool(server, work);
  registerAskUserQuestionTool(server, work);
  registerCheckResponseTool(server, work);
  registerHeartbeatTool(server, work, leaseMs);
  registerReportProgressTool(server, work);
  registerCreateBranchTool(server, work);
  registerCreatePrTool(server, work);
  registerTriggerPreviewTool(server, work);
  registerReleaseTaskTool(server, work);
  registerListMyTasksTool(server, work);
  return server;
}
