import { Gauge } from 'prom-client';
import type { Db } from '../../db/client';
import { openQuestions, taskCountsByState } from '../../db/metrics';
import type { Logger } from '../../platform/logger';
import { registry } from '../../platform/metrics';

const tasks = new Gauge({
  name: 'aiworker_tasks',
  help: 'Tasks in the read model, by project and state',
  labelNames: ['project_id', 'state'] as const,
  registers: [registry],
});

const stuck = new Gauge({
  name: 'aiworker_stuck_tasks',
  help: "Tasks marked stuck: their workflow fails every workflow task (the worker's stuck-task sweep)",
  registers: [registry],
});

const questions = new Gauge({
  name: 'aiworker_open_questions',
  help: 'Questions of tasks in needs_input that no person has answered yet',
  registers: [registry],
});

/** When the oldest open question was asked, as last read; its age is taken at each scrape. */
let oldestAskedAt: Date | null = null;

new Gauge({
  name: 'aiworker_open_question_oldest_age_seconds',
  help: 'How long the oldest open question has waited for an answer (0 when none waits)',
  registers: [registry],
  collect() {
    this.set(oldestAskedAt ? (Date.now() - oldestAskedAt.getTime()) / 1000 : 0);
  },
});

/** How long one reading of the read model answers scrapes (several Prometheus replicas, say). */
const FRESH_MS = 5_000;

let last: { at: number; reading: Promise<void> } | undefined;

async function read(db: Db, logger: Logger): Promise<void> {
  try {
    const [counts, open] = await Promise.all([taskCountsByState(db), openQuestions(db)]);
    tasks.reset();
    for (const c of counts) tasks.set({ project_id: c.projectId, state: c.state }, c.count);
    stuck.set(counts.reduce((sum, c) => sum + c.stuck, 0));
    questions.set(open.count);
    oldestAskedAt = open.oldestAskedAt;
  } catch (err) {
    // The scrape goes on with the last reading: request and process metrics matter most while
    // MySQL is away, and the oldest question only grows older meanwhile.
    logger.warn({ err: (err as Error).message }, 'metrics: the read model did not answer');
  }
}

/**
 * Sets the gauges read from the read model: two cheap queries, at most once per FRESH_MS
 * however many scrapes come. When MySQL does not answer, they keep the last reading.
 */
export async function refreshReadModelGauges(db: Db, logger: Logger): Promise<void> {
  if (!last || Date.now() - last.at >= FRESH_MS) {
    last = { at: Date.now(), reading: read(db, logger) };
  }
  await last.reading;
}
