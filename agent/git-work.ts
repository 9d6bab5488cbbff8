import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AgentTask, AgentTools } from './reference-agent';

const run = promisify(execFile);

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd,
    env: {
      ...process.env,
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
    if (!existsSync(dir)) await git(options.workdir, 'clone', '--quiet', cloneUrl, dir);
    await git(dir, 'fetch', '--quiet', 'origin');
    await git(dir, 'checkout', '--quiet', '-B', branch, `origin/${branch}`);
    const message = await options.edit(dir, task, answer);
    await git(dir, 'add', '--all');
    await git(dir, 'commit', '--quiet', '-m', message);
    await git(dir, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    const sha = await git(dir, 'rev-parse', 'HEAD');
    log(`pushed ${sha.slice(0, 12)} to ${branch}`);
    await tools.call('report_progress', { taskId: task.id, message: `pushed ${sha.slice(0, 12)}` });
    const pr = (await tools.call('create_pr', { taskId: task.id })) as { prUrl: string };
    log(`pull request ${pr.prUrl}`);
    const { previewUrl } = (await tools.call('trigger_preview', { taskId: task.id })) as {
      previewUrl: string;
    };
    log(`preview of task ${task.id} at ${previewUrl}`);
  };
}
