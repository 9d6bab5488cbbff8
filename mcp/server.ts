import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SetLevelRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { LogLevel } from './logging';
import { registerPrompts } from './prompts';
import { registerTaskResources } from './resources';
import { clearFailures } from './tools/result';
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

/** What the server for one request needs besides the agent's work. */
export interface ServerOptions {
  /** The task lease, stated in `heartbeat`'s description and the `work_on_task` prompt. */
  leaseMs: number;
  /** The level the agent chose with `logging/setLevel`, or null (then it gets no log messages). */
  logLevel: LogLevel | null;
  /** Keeps the agent's choice of level for its later requests. */
  setLogLevel(level: LogLevel): Promise<void>;
  /** The running version, as `serverInfo.version`. */
  version: string;
}

/**
 * The validator of JSON schemas the SDK would otherwise build for every server (one per request);
 * it keeps no state of a request. The tools' zod schemas are likewise built once, with their
 * modules.
 */
const JSON_SCHEMA_VALIDATOR = new AjvJsonSchemaValidator();

/**
 * aiworker's MCP server for one authenticated agent: every agent tool, the agent's tasks as
 * resources, the `work_on_task` prompt, and log messages at the level the agent chose. Lists
 * never change while a server lives (one per request), so no `listChanged` is declared.
 */
export function createServer(work: AgentWork, options: ServerOptions): McpServer {
  const server = new McpServer(
    { name: 'aiworker', version: options.version },
    {
      capabilities: {
        tools: { listChanged: false },
        resources: { listChanged: false, subscribe: false },
        prompts: { listChanged: false },
        completions: {},
        logging: {},
      },
      jsonSchemaValidator: JSON_SCHEMA_VALIDATOR,
      instructions:
        'You are an agent of aiworker. Take a task with get_next_task, work on it, ask people with ' +
        'ask_user_question when you are stuck and wait for the answer with check_response. Deliver with ' +
        'create_branch, git push, create_pr and trigger_preview; report milestones with report_progress. ' +
        'The prompt work_on_task walks through the whole flow; aiworker://tasks/{id} reads one of your tasks.',
    },
  );
  const log = options.logLevel;
  registerGetNextTaskTool(server, work, log);
  registerAskUserQuestionTool(server, work);
  registerCheckResponseTool(server, work, log);
  registerHeartbeatTool(server, work, options.leaseMs);
  registerReportProgressTool(server, work);
  registerCreateBranchTool(server, work);
  registerCreatePrTool(server, work);
  registerTriggerPreviewTool(server, work, log);
  registerReleaseTaskTool(server, work);
  registerListMyTasksTool(server, work);
  registerTaskResources(server, work);
  registerPrompts(server, work, options.leaseMs);
  // Registering tools, resources and prompts declares `listChanged: true`; nothing here sends it.
  server.server.registerCapabilities({
    tools: { listChanged: false },
    resources: { listChanged: false, subscribe: false },
    prompts: { listChanged: false },
  });
  // The level outlives this server (one per request): it is kept for the agent.
  server.server.setRequestHandler(SetLevelRequestSchema, (request) =>
    clearFailures(async () => {
      await options.setLogLevel(request.params.level);
      return {};
    }),
  );
  return server;
}
