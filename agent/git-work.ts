import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AgentTask, AgentTools } from './reference-agent';

const run = promisify(execFile);

/**
 * Runs git as the agent. With `token`, requests to aiworker's git gateway carry it as a bearer
 * header, through the environment, so it is written to no file of the checkout.
 */
async function git(cwd: string, token: string | null, ...args: string[]): Promise<string> {
  const auth = token
    ? {
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.extraHeader',
        GIT_CONFIG_VALUE_0: `Authorization: Bearer ${token}`,
      }
    : {};
  const { stdout } = await run('git', args, {
    cwd,
    env: {
      ...process.env,
      ...auth,
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'reference agent',
      GIT_AUTHOR_EMAIL: 'agent@aiworker.localhost',
      GIT_COMMITTER_NAME: 'reference agent',
      GIT_COMMITTER_EMAIL: 'agent@aiworker.localhost',
    },
  });
  return stdout.trim();
}

/**
 * The reference agent's delivery, as a coding agent does it: `create_branch`, a checkout of that
 * branch, `edit` changes files, commit and push, `create_pr`, then `trigger_preview`, which hands
 * the task in for review. A task sent back for changes comes through here again with its feedback.
 */
export function gitDelivery(options: {
  /** The agent's token: git authenticates to aiworker's git gateway with it. */
  token: string;
  /** Where the agent keeps its checkouts (one folder per task). */
  workdir: string;
  /** Changes the checkout for the task; answers the commit message. */
  edit: (dir: string, task: AgentTask, answer: string | null) => Promise<string>;
  log?: (line: string) => void;
}) {
  const log = options.log ?? (() => undefined);
  return async (task: AgentTask, tools: AgentTools, answer: string | null): Promise<void> => {
    const { branch, cloneUrl } = (await tools.call('create_branch', { taskId: task.id })) as {
      branch: string;
      cloneUrl: string;
    };
    const dir = path.join(options.workdir, task.id);
    const { token } = options;
    if (!existsSync(dir)) await git(options.workdir, token, 'clone', '--quiet', cloneUrl, dir);
    await git(dir, token, 'fetch', '--quiet', 'origin');
    await git(dir, null, 'checkout', '--quiet', '-B', branch, `origin/${branch}`);
    const message = await options.edit(dir, task, answer);
    await git(dir, null, 'add', '--all');
    await git(dir, null, 'commit', '--quiet', '-m', message);
    await git(dir, token, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    const sha = await git(dir, null, 'rev-parse', 'HEAD');
    log(`pushed ${sha.slice(0, 12)} to ${branch}`);
    await tools.call('report_progress', { taskId: task.id, message: `pushed ${sha.slice(0, 12)}` });
    const pr = (await tools.call('create_pr', { taskId: task.id })) as { prUrl: string };
    log(`pull request ${pr.prUrl}`);
    // A deploy that outlasts one call goes on; calling again waits for the same deploy.
    let preview: { status: string; previewUrl: string | null };
    do {
      preview = (await tools.call('trigger_preview', { taskId: task.id })) as typeof preview;
    } while (preview.status === 'deploying');
    const { previewUrl } = preview;
    log(`preview of task ${task.id} at ${previewUrl}`);
  };
}
