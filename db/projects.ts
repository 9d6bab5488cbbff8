import type { Prisma } from '../generated/prisma/client';
import type { NewProject, ProjectRecord } from '../contracts/project';
import type { Db } from './client';

/** Thrown by `insertProject` when another project already has the name. */
export class ProjectNameTaken extends Error {
  constructor(name: string) {
    super(`a project named "${name}" already exists`);
    this.name = 'ProjectNameTaken';
  }
}

type Row = Awaited<ReturnType<Db['project']['findFirstOrThrow']>>;

function present(row: Row): ProjectRecord {
  return {
    id: row.id,
    name: row.name,
    repository: { provider: row.repoProvider, owner: row.repoOwner, name: row.repoName },
    preview: (row.previewConfig as Record<string, unknown> | null) ?? null,
    cloneUrl: row.cloneUrl,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * The repository address a project's agents clone through the git gateway, or null; undefined
 * for no such project. One column, sent by the driver: every claim asks it (db/sql.ts).
 */
export async function findProjectCloneUrl(db: Db, id: string): Promise<string | null | undefined> {
  const [row] = await db.sql.execute<Array<{ cloneUrl: string | null }>>(
    'SELECT cloneUrl FROM projects WHERE id = ?',
    [id],
  );
  return row?.cloneUrl;
}

/** Creates the project row; a second call with the same id returns the existing row (retries are safe). */
/** Refuses a name that another project has; the unique index stays the final word. */
export async function requireProjectNameFree(db: Db, project: NewProject): Promise<void> {
  const holder = await db.project.findUnique({
    where: { name: project.name },
    select: { id: true },
  });
  if (holder && holder.id !== project.id) throw new ProjectNameTaken(project.name);
}

export async function insertProject(db: Db, project: NewProject): Promise<ProjectRecord> {
  const existing = await db.project.findUnique({ where: { id: project.id } });
  if (existing) return present(existing);
  try {
    const row = await db.project.create({
      data: {
        id: project.id,
        name: project.name,
        repoProvider: project.repository.provider,
        repoOwner: project.repository.owner ?? null,
        repoName: project.repository.name ?? null,
        previewConfig: (project.preview ?? undefined) as Prisma.InputJsonValue | undefined,
        cloneUrl: project.cloneUrl ?? null,
      },
    });
    return present(row);
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') throw new ProjectNameTaken(project.name);
    throw err;
  }
}

export async function findProject(db: Db, id: string): Promise<ProjectRecord | undefined> {
  const row = await db.project.findUnique({ where: { id } });
  return row ? present(row) : undefined;
}

/**
 * Projects, oldest first, one page at a time: at most `page.limit`, the ones after project
 * `page.after`. Undefined when `page.after` names no project.
 */
export async function listProjects(
  db: Db,
  page: { after?: string; limit: number },
  only?: string[],
): Promise<ProjectRecord[] | undefined> {
  let where: Prisma.ProjectWhereInput = only ? { id: { in: only } } : {};
  if (page.after) {
    const from = await db.project.findUnique({
      where: { id: page.after },
      select: { createdAt: true },
    });
    if (!from) return undefined;
    where = {
      AND: [
        where,
        {
          OR: [
            { createdAt: { gt: from.createdAt } },
            { createdAt: from.createdAt, id: { gt: page.after } },
          ],
        },
      ],
    };
  }
  const rows = await db.project.findMany({
    where,
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: page.limit,
  });
  return rows.map(present);
}
