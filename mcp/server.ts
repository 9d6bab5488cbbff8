import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerAskUserQuestionTool } from './tools/ask-user-question';
import { registerCheckResponseTool } from './tools/check-response';
import { registerGetNextTaskTool } from './tools/get-next-task';
import type { AgentWork } from './work';

/** aiworker's MCP server for one authenticated agent, with every agent tool registered. */
export function createServer(work: AgentWork): McpServer {
  const server = new McpServer(
    { name: 'aiworker', version: '0.1.0' },
    {
      instructions:
        'You are an agent of aiworker. Take a task with get_next_task, work on it, ask people with ' +
        'ask_user_question when you are stuck and wait for the answer with check_response.',
    },
  );
  registerGetNextTaskTool(server, work);
  registerAskUserQuestionTool(server, work);
  registerCheckResponseTool(server, work);
  return server;
}
