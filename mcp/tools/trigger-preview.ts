import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { AgentWork } from '../work';
import { keepInformed, PROGRESS_EVERY_MS } from './keep-informed';
import { toolResult } from './result';

export function registerTriggerPreviewTool(server: McpServer, work: AgentWork): void {
  server.registerTool(
    'trigger_preview',
    {
      title: 'Deploy a preview and hand in for review',
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      description:
        'Deploys the head of your task branch as a preview and, once it serves, hands the task in for review ' +
        '(ready_to_test). It can take minutes while the app installs and starts: pass a progressToken and reset ' +
        `your timeout on progress (a notification comes every ${PROGRESS_EVERY_MS / 1000} s). Call it when your work is pushed ` +
        'and the pull request is open; after changes are requested, push again and call it again.',
      inputSchema: { taskId: z.string().uuid().describe('Your task') },
      outputSchema: { previewUrl: z.string().describe('Where the preview of your branch answers') },
    },
    async (input, extra) =>
      toolResult(() =>
        keepInformed(extra, 'deploying the preview', () => work.triggerPreview(input)),
      ),
  );
}
