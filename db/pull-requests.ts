import { randomUUID } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client';
import type { Db } from './client';

/** One file of a pull request's diff. */
export interface PullRequestFile {
  path: string;
  additions: number;
  deletions: number;
}

/** A pull request's diff against its base, as the forge last computed it. */
export interface PullRequestDiff {
  headSha: string;
  filesChanged: number;
  additions: number;
  deletions: number;
  files: PullRequestFile[];
}

/** A pull request of the local forge as the read model holds it. */
export interface PullRequestRecord extends PullRequestDiff {
  id: string;
  projectId: string;
  number: number;
  taskId: string | null;
  title: string;
  body: string;
  headBranch: string;
  baseBranch: string;
  state: 'open' | 'merged' | 'closed';
  mergeSha: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Thrown by `createPullRequest` when the project has no row in the read model. */
export class PullRequestProjectMissing extends Error {
  constructor(readonly projectId: string) {
    super(`no project ${projectId}`);
    this.name = 'PullRequestProjectMissing';
  }
}

/** Thrown by `createPullRequest` when it kept losing the race for the next number. */
export class PullRequestNumberContended extends Error {
  constructor(projectId: string, attempts: number) {
    super(`could not take a pull request number in project ${projectId} after ${attempts} tries`);
    this.name = 'PullRequestNumberContended';
  }
}

const NUMBER_ATTEMPTS = 20;

type Row = Awaited<ReturnType<Db['pullRequest']['findFirstOrThrow']>>;

function present(row: Row): PullRequestRecord {
  return {
    id: row.id,
    projectId: row.projectId,
    number: row.number,
    taskId: row.taskId,
    title: row.title,
    body: row.body,
    headBranch: row.headBranch,
    baseBranch: row.baseBranch,
    state: row.state,
    headSha: row.headSha,
    mergeSha: row.mergeSha,
    filesChanged: row.filesChanged,
    additions: row.additions,
    deletions: row.deletions,
    files: row.files as unknown as PullRequestFile[],
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function diffData(diff: PullRequestDiff) {
  return {
    headSha: diff.headSha,
    filesChanged: diff.filesChanged,
    additions: diff.additions,
    deletions: diff.deletions,
    files: diff.files as unknown as Prisma.InputJsonValue,
  };
}

function errorCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/**
 * Records a new open pull request with the project's next number. Numbers come from the highest
 * one so far; two creations that pick the same number collide on the unique (project, number)
 * index, and the loser takes the next one.
 */
export async function createPullRequest(
  db: Db,
  pr: {
    projectId: string;
    taskId?: string | null;
    title: string;
    body: string;
    headBranch: string;
    baseBranch: string;
    diff: PullRequestDiff;
  },
): Promise<PullRequestRecord> {
  for (let attempt = 1; attempt <= NUMBER_ATTEMPTS; attempt++) {
    const { _max } = await db.pullRequest.aggregate({
      where: { projectId: pr.projectId },
      _max: { number: true },
    });
    try {
      const row = await db.pullRequest.create({
        data: {
          id: randomUUID(),
          projectId: pr.projectId,
          number: (_max.number ?? 0) + 1,
          taskId: pr.taskId ?? null,
          title: pr.title,
          body: pr.body,
          headBranch: pr.headBranch,
          baseBranch: pr.baseBranch,
          ...diffData(pr.diff),
        },
      });
      return present(row);
    } catch (err) {
      if (errorCode(err) === 'P2003') throw new PullRequestProjectMissing(pr.projectId);
      if (errorCode(err) !== 'P2002') throw err;
      // Spread the contenders out so they do not collide again on the following number.
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
  throw new PullRequestNumberContended(pr.projectId, NUMBER_ATTEMPTS);
}

/** The open pull request whose head is `headBranch`, if any (the oldest, should there be two). */
export async function findOpenPullRequestByHead(
  db: Db,
  projectId: string,
  headBranch: string,
): Promise<PullRequestRecord | undefined> {
  const row = await db.pullRequest.findFirst({
    where: { projectId, headBranch, state: 'open' },
    orderBy: { number: 'asc' },
  });
  return row ? present(row) : undefined;
}

/** Pull request `number` of the project, if any. */
export async function findPullRequest(
  db: Db,
  projectId: string,
  number: number,
): Promise<PullRequestRecord | undefined> {
  const row = await db.pullRequest.findUnique({
    where: { projectId_number: { projectId, number } },
  });
  return row ? present(row) : undefined;
}

/** Stores a new head and its diff, and optionally a new title, body or task. */
export async function updatePullRequestHead(
  db: Db,
  id: string,
  change: { diff: PullRequestDiff; title?: string; body?: string; taskId?: string },
): Promise<PullRequestRecord> {
  const row = await db.pullRequest.update({
    where: { id },
    data: {
      ...diffData(change.diff),
      ...(change.title !== undefined && { title: change.title }),
      ...(change.body !== undefined && { body: change.body }),
      ...(change.taskId !== undefined && { taskId: change.taskId }),
    },
  });
  return present(row);
}

/** Marks the pull request merged by `mergeSha` (again, if a retry or a re-merge finds it so). */
export async function markPullRequestMerged(
  db: Db,
  id: string,
  mergeSha: string,
): Promise<PullRequestRecord> {
  const row = await db.pullRequest.update({ where: { id }, data: { state: 'merged', mergeSha } });
  return present(row);
}
