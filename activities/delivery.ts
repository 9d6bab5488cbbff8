import { ApplicationFailure, log } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import { DELIVERY_FAILED, DELIVERY_UNAVAILABLE } from '../contracts/messages';
import { failureDetail, unreachableDependency } from '../platform/failures';
import type { TaskView } from '../contracts/task';
import { findProject } from '../db/projects';
import type { ProjectRecord } from '../contracts/project';
import type { ActivityDeps } from './deps';
import { beat, whileBeating } from './heartbeat';
import { ForgeRefusal, ForgeUnavailable, repoOf, STAGING_BRANCH, taskBranch } from './forge/forge';
import { previewDeploys, timed } from './metrics';
import type { Forge, RepoRef } from './forge/forge';
import { PreviewFailed, taskPreviewName } from './preview/runtime';

/** Whom a delivery step depends on, as its outage is named to the agent and on the board. */
type Dependence = 'the forge' | 'the forge or the preview runtime';

/**
 * Runs a delivery step; what retrying cannot fix (the forge refused, the preview cannot start)
 * fails at once with the forge's or the runtime's own words, for the agent and the board. Any
 * other failure (an outage, a timeout) is retried, and told in aiworker's words only: its own
 * text (a host, a path, git's output, a library's message) goes to the worker's log.
 */
async function step<T>(on: Dependence, run: () => Promise<T>): Promise<T> {
  try {
    return await whileBeating(run);
  } catch (err) {
    if (err instanceof ForgeRefusal || err instanceof PreviewFailed) {
      throw ApplicationFailure.nonRetryable(err.message, DELIVERY_FAILED);
    }
    // Temporal's own (the activity cancelled or timed out) stay as they are.
    if (err instanceof TemporalFailure) throw err;
    // An outage is expected now and then; anything else is a fault of aiworker's to look into.
    const outage = err instanceof ForgeUnavailable || unreachableDependency(err) !== null;
    const detail = { cause: failureDetail(err) };
    if (outage) log.warn('delivery step failed; it is retried', detail);
    else log.error('delivery step failed on an unexpected error; it is retried', detail);
    throw ApplicationFailure.retryable(
      `${on} did not answer or failed for a reason that may pass (the worker logged it); try again shortly`,
      DELIVERY_UNAVAILABLE,
    );
  }
}

/** Text as a Markdown block quote: whatever it holds (headings, "**A:**" lines) stays inside. */
function quoted(text: string): string[] {
  return text.split(/\r?\n/).map((line) => (line ? `> ${line}` : '>'));
}

/**
 * The pull request description: the task, what was asked and answered, feedback, the commits,
 * and last the agent's own notes. What an agent wrote (its questions, its notes) is quoted under
 * a heading that says so, so that it cannot pass for the parts aiworker writes (a person's
 * answer, review feedback).
 */
export function describePullRequest(
  task: TaskView,
  commits: Array<{ sha: string; subject: string }>,
  note?: string,
): string {
  const lines = [`Task ${task.id}: ${task.title}`, '', task.description];
  const answered = task.questions.filter((q) => q.answer !== null);
  if (answered.length) {
    lines.push('', '## Questions and answers');
    for (const q of answered) {
      lines.push('', 'The agent asked:', ...quoted(q.question), '', 'A person answered:');
      lines.push(...quoted(q.answer!));
    }
  }
  if (task.feedback.length) {
    lines.push('', '## Review feedback addressed');
    for (const f of task.feedback) lines.push('', ...quoted(f));
  }
  lines.push('', '## Commits');
  for (const c of commits) lines.push(`- ${c.sha.slice(0, 12)} ${c.subject}`);
  if (note) lines.push('', "## The agent's notes", '', ...quoted(note));
  return lines.join('\n');
}

/** Activities of the agent's delivery steps: branch, pull request, preview (delivery: docs/architecture.md, "Agents, delivery and merges"). */
export function createDeliveryActivities(deps: ActivityDeps) {
  const { db, previews } = deps;
  const forgeFor = (provider: 'local' | 'gitea') => deps.forgeFor(provider);
  const projectRepo = async (
    projectId: string,
  ): Promise<{ project: ProjectRecord; repo: RepoRef; forge: Forge }> => {
    const project = await findProject(db, projectId);
    if (!project) throw new ForgeRefusal(`there is no project ${projectId}`);
    const repo = repoOf(project);
    return { project, repo, forge: forgeFor(repo.provider) };
  };

  return {
    /** Creates the project's repository on its forge (idempotent); answers its clone URL. */
    async ensureProjectRepository(
      project: Pick<ProjectRecord, 'id' | 'repository'>,
    ): Promise<{ cloneUrl: string }> {
      return await step('the forge', () =>
        forgeFor(project.repository.provider).ensureRepository(repoOf(project)),
      );
    },

    /** Creates `task-<id>-feature` from staging unless it exists; answers where to push it. */
    async ensureTaskBranch(input: {
      projectId: string;
      taskId: string;
    }): Promise<{ branch: string; cloneUrl: string }> {
      return await step('the forge', async () => {
        const { repo, forge } = await projectRepo(input.projectId);
        const branch = taskBranch(input.taskId);
        await forge.createBranch(repo, branch, STAGING_BRANCH);
        return { branch, cloneUrl: await forge.cloneUrl(repo) };
      });
    },

    /** Opens the task's pull request into staging (or updates the open one) with a generated description. */
    async openTaskPullRequest(input: {
      task: TaskView;
      title?: string;
      description?: string;
    }): Promise<{ prNumber: number; prUrl: string }> {
      return await step('the forge', async () => {
        const { task } = input;
        const { repo, forge } = await projectRepo(task.projectId);
        const branch = task.branch!;
        const commits = await forge.commitsBetween(repo, STAGING_BRANCH, branch);
        if (commits.length === 0) {
          throw new ForgeRefusal(
            `branch ${branch} has no commits that staging lacks: commit and push your work first`,
          );
        }
        const pr = await forge.openPullRequest(repo, {
          head: branch,
          base: STAGING_BRANCH,
          title: input.title ?? task.title,
          body: describePullRequest(task, commits, input.description),
          taskId: task.id,
        });
        return { prNumber: pr.number, prUrl: pr.url };
      });
    },

    /** Deploys the head of the task's branch as its preview; answers the URL once it serves. */
    async deployTaskPreview(input: {
      projectId: string;
      taskId: string;
      branch: string;
    }): Promise<{ url: string; commit: string }> {
      return await timed(previewDeploys, () =>
        step('the forge or the preview runtime', async () => {
          const { project, repo, forge } = await projectRepo(input.projectId);
          const commit = await forge.branchHead(repo, input.branch);
          if (!commit) {
            throw new ForgeRefusal(`branch ${input.branch} is not on the forge: push it first`);
          }
          const cloneUrl = await forge.cloneUrl(repo);
          const info = await previews.deploy(
            {
              name: taskPreviewName(input.taskId),
              projectId: input.projectId,
              taskId: input.taskId,
              branch: input.branch,
              commit,
              cloneUrl,
              gitEnv: forge.gitEnv(cloneUrl),
              config: project.preview ?? {},
            },
            beat,
          );
          return { url: info.url, commit: info.commit };
        }),
      );
    },
  };
}
