import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { taskHistoryQuery, taskViewQuery } from '../../contracts/messages';
import { taskWorkflowId } from '../../contracts/task';
import { closeDb, createDb } from '../../db/client';
import { TestBoard } from '../support/board';
import { answerQuestions, ChaosAgent, LEAKS, newSeen, PersonClient } from './load';
import type { Seen } from './load';
import { ChaosStack } from './stack';
import type { PartName } from './stack';

export interface ChaosOptions {
  agents: number;
  tasks: number;
  /** Parts killed with SIGKILL, one after the other, while the load runs. */
  faults: PartName[];
  /** The run gives up (and reports what is left) after this long. */
  deadlineMs: number;
  say?: (line: string) => void;
}

/** One fault: when it hit, when the part was back, when every API was ready again. */
export interface Recovery {
  part: PartName;
  /** Kill → the supervisor had the part running again. */
  restartedMs: number;
  /** Kill → both APIs answer /readyz. */
  readyMs: number;
  /** The longest stretch around the fault in which no client call succeeded. */
  gapMs: number;
}

export interface ChaosReport {
  tasks: number;
  claims: number;
  resumed: number;
  questionsAnswered: number;
  drainMs: number;
  recoveries: Recovery[];
  /** Tasks claimed by two agents, or whose workflow recorded two assignments that held. */
  doubles: string[];
  /** Tasks in the read model that no agent received. */
  lost: string[];
  /** Tasks assigned, in the read model, to an agent that never received them. */
  orphans: string[];
  /** Tasks whose read-model row disagrees with their workflow's state or assignee. */
  readModelMismatches: string[];
  /** Seqs of the project's event log the board never received. */
  boardMissed: number[];
  /** Why the board's connection was lost, each time, and when the first missed event was logged. */
  boardNotes: { disconnects: string[]; firstMissedAt: string | null };
  /** Error texts that showed a library's words, a path or a stack frame. */
  leaks: string[];
  /** Error answers received, by code. */
  errorCodes: Record<string, number>;
  /** Parts that were not running at the end. */
  notRunning: string[];
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** The longest stretch without a success in [from, to]. */
function longestGap(successes: number[], from: number, to: number): number {
  const inside = successes.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap = 0;
  let last = from;
  for (const t of inside) {
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}

/**
 * The chaos run: agents, a person answering questions and creating tasks, and a board following
 * the project, against two API processes and two workers on services of their own; each part in
 * `faults` is SIGKILLed mid-load and brought back by the supervisor alone. The report says what
 * held and how long each recovery took.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const say = opts.say ?? (() => undefined);
  say('starting Temporal, MariaDB, Redis, two workers and two API processes');
  const stack = await ChaosStack.start();
  const seen: Seen = newSeen();
  const agents: ChaosAgent[] = [];
  let board: TestBoard | undefined;
  const db = createDb(stack.databaseUrl, { connectionLimit: 4 });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection });
  try {
    const person = new PersonClient(stack.apiUrls, stack.adminToken, seen);
    const project = await person.until(201, 'POST', '/api/projects', { name: 'chaos' });
    const projectId = project.id as string;
    board = await TestBoard.connect(stack.apiUrls[0]!, stack.adminToken);
    await board.subscribe(projectId, 0);
    for (let i = 0; i < opts.agents; i += 1) {
      const agent = await person.until(201, 'POST', '/api/agents', {
        name: `chaos-agent-${i}`,
        projectIds: [projectId],
      });
      agents.push(new ChaosAgent(agent.agentId, agent.token, stack.apiUrls, i, seen));
    }
    const titleOf = (i: number) => `task ${i}${i % 3 === 0 ? ' [ask]' : ''}`;
    const create = async (i: number) => {
      const body = await person.until(201, 'POST', '/api/tasks', {
        projectId,
        title: titleOf(i),
        description: `chaos task ${i}`,
      });
      seen.created.add(body.taskId as string);
    };
    // A quarter of the tasks first; the rest in one batch per fault, so each fault lands while
    // tasks are being created, claimed and asked about.
    const upfront = Math.ceil(opts.tasks / 4);
    await eachLimited(
      Array.from({ length: upfront }, (_, i) => i),
      4,
      create,
    );
    say(
      `${upfront} tasks created; ${opts.agents} agents start, the rest of the tasks come with the faults`,
    );

    let stopping = false;
    const stop = () => stopping;
    const started = Date.now();
    const working = agents.map((a) => a.work(stop));
    const answering = answerQuestions(person, projectId, stop);
    const creations: Array<Promise<void>> = [];

    const recoveries: Recovery[] = [];
    const perFault = Math.ceil((opts.tasks - upfront) / Math.max(1, opts.faults.length));
    let next = upfront;
    for (const part of opts.faults) {
      const batch = Array.from(
        { length: Math.min(perFault, opts.tasks - next) },
        (_, i) => next + i,
      );
      next += batch.length;
      creations.push(eachLimited(batch, 2, create));
      // Mid-load: some of the new batch is claimed, some is not yet created or claimed.
      const want = next - Math.ceil(batch.length / 2);
      const waitUntil = Date.now() + 15_000;
      while (seen.claims.length < want && Date.now() < waitUntil) await sleep(50);
      const killedAt = stack.kill(part);
      say(
        `killed ${part} (SIGKILL) at ${new Date(killedAt).toISOString()} after ${seen.claims.length} claims`,
      );
      const restartedAt = await stack.restarted(part, killedAt);
      const readyAt = await stack.waitReady();
      say(`${part} back after ${restartedAt - killedAt} ms, ready after ${readyAt - killedAt} ms`);
      await sleep(2000);
      recoveries.push({
        part,
        restartedMs: restartedAt - killedAt,
        readyMs: readyAt - killedAt,
        gapMs: longestGap(seen.successes, killedAt, Math.min(Date.now(), readyAt + 2000)),
      });
    }
    if (next < opts.tasks) {
      creations.push(
        eachLimited(
          Array.from({ length: opts.tasks - next }, (_, i) => next + i),
          2,
          create,
        ),
      );
    }
    await Promise.all(creations);

    // Done once every task in the read model was received and every question answered.
    const deadline = started + opts.deadlineMs;
    for (;;) {
      const rows = await db.task
        .findMany({ where: { projectId }, select: { id: true, title: true } })
        .catch(() => null);
      if (rows) {
        const claimed = new Set(seen.claims.map((c) => c.taskId));
        const left = rows.filter(
          (r) => !claimed.has(r.id) || (r.title.includes('[ask]') && !seen.answered.has(r.id)),
        );
        if (left.length === 0 && rows.length >= opts.tasks) break;
      }
      if (Date.now() > deadline) {
        const claimed = new Set(seen.claims.map((c) => c.taskId));
        const left = (rows ?? [])
          .filter(
            (r) => !claimed.has(r.id) || (r.title.includes('[ask]') && !seen.answered.has(r.id)),
          )
          .map((r) => `${r.id} ${r.title}: ${seen.lastStep.get(r.id) ?? 'never received'}`);
        say(`the deadline passed before the load was done; left: ${left.join(' | ')}`);
        break;
      }
      await sleep(250);
    }
    const drainMs = Date.now() - started;
    stopping = true;
    await Promise.all([...working, answering]);
    say(`load done in ${(drainMs / 1000).toFixed(1)} s; checking`);

    return await check(stack, db, temporal, board, projectId, seen, recoveries, drainMs);
  } finally {
    board?.close();
    await Promise.all(agents.map((a) => a.close()));
    await connection.close().catch(() => undefined);
    await closeDb(db).catch(() => undefined);
    await stack.stop();
  }
}

async function check(
  stack: ChaosStack,
  db: ReturnType<typeof createDb>,
  temporal: Client,
  board: TestBoard,
  projectId: string,
  seen: Seen,
  recoveries: Recovery[],
  drainMs: number,
): Promise<ChaosReport> {
  const rows = await db.task.findMany({ where: { projectId } });
  const claimers = new Map<string, Set<string>>();
  for (const c of seen.claims) {
    claimers.set(c.taskId, (claimers.get(c.taskId) ?? new Set()).add(c.agentId));
  }
  const received = new Set(
    [...seen.claims, ...seen.resumed].map((c) => `${c.agentId}:${c.taskId}`),
  );
  const doubles = [...claimers].filter(([, who]) => who.size > 1).map(([id]) => id);
  const lost = rows.filter((r) => !claimers.has(r.id)).map((r) => r.id);
  const orphans = rows
    .filter((r) => r.assignedAgentId && !received.has(`${r.assignedAgentId}:${r.id}`))
    .map((r) => r.id);
  const readModelMismatches: string[] = [];
  await eachLimited(rows, 8, async (row) => {
    const handle = temporal.workflow.getHandle(taskWorkflowId(row.id));
    const [view, history] = await Promise.all([
      handle.query(taskViewQuery),
      handle.query(taskHistoryQuery),
    ]);
    if (view.state !== row.state || (view.assignedAgentId ?? null) !== row.assignedAgentId) {
      readModelMismatches.push(
        `${row.id}: workflow ${view.state}/${view.assignedAgentId}, read model ${row.state}/${row.assignedAgentId}`,
      );
    }
    const assigned = history.filter((t) => t.to === 'in_progress' && t.from === 'backlog').length;
    const givenBack = history.filter((t) => t.from === 'in_progress' && t.to === 'backlog').length;
    if (assigned > givenBack + 1 && !doubles.includes(row.id)) doubles.push(row.id);
  });

  // The board has caught up with the whole log (it reconnects and catches up by itself).
  const logged = (await db.taskEvent.findMany({ where: { projectId }, select: { seq: true } })).map(
    (e) => Number(e.seq),
  );
  const gotSeqs = () => new Set(board.events.map((e) => Number(e.seq)));
  const until = Date.now() + 30_000;
  while (logged.some((s) => !gotSeqs().has(s)) && Date.now() < until) await sleep(200);
  const got = gotSeqs();
  const maxSeq = Math.max(0, ...logged);
  const boardMissed = Array.from({ length: maxSeq }, (_, i) => i + 1).filter((s) => !got.has(s));

  const firstMissed = boardMissed.length
    ? await db.taskEvent.findFirst({
        where: { projectId, seq: BigInt(boardMissed[0]!) },
        select: { createdAt: true, type: true },
      })
    : null;
  const running = stack.runningParts();
  return {
    tasks: rows.length,
    claims: seen.claims.length,
    resumed: seen.resumed.length,
    questionsAnswered: seen.answered.size,
    drainMs,
    recoveries,
    doubles,
    lost,
    orphans,
    readModelMismatches,
    boardMissed,
    boardNotes: {
      disconnects: board.disconnects,
      firstMissedAt: firstMissed
        ? `${firstMissed.createdAt.toISOString()} (${firstMissed.type})`
        : null,
    },
    leaks: [...new Set(seen.errors.filter((e) => LEAKS.test(e)))].slice(0, 20),
    errorCodes: Object.fromEntries(seen.codes),
    notRunning: running.filter((r) => !r.running).map((r) => r.name),
  };
}

/** The recovery table, as docs/performance.md shows it. */
export function recoveryTable(report: ChaosReport): string {
  const lines = [
    '| part killed (SIGKILL) | back (supervisor) | both APIs ready | longest stretch without a successful call |',
    '| --------------------- | ----------------- | --------------- | ----------------------------------------- |',
    ...report.recoveries.map(
      (r) =>
        `| ${r.part} | ${(r.restartedMs / 1000).toFixed(1)} s | ${(r.readyMs / 1000).toFixed(1)} s | ${(r.gapMs / 1000).toFixed(1)} s |`,
    ),
  ];
  return lines.join('\n');
}
