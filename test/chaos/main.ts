// `npm run chaos`: the full chaos run (docs/performance.md, "Faults"). Starts its own Temporal,
// MariaDB and Redis, two workers and two API processes, runs agents, a person and a board, and
// SIGKILLs each part mid-load. Prints the recovery table and exits non-zero if anything did not
// hold. `npm test` runs a lighter form (test/chaos.test.ts).
import { PART_NAMES } from './stack';
import type { PartName } from './stack';
import { recoveryTable, runChaos } from './chaos';

const AGENTS = Number(process.env.CHAOS_AGENTS ?? 20);
const TASKS = Number(process.env.CHAOS_TASKS ?? 200);
const FAULTS: PartName[] = [
  'worker-1',
  'api-1',
  'temporal',
  'mariadb',
  'redis',
  'worker-2',
  'api-2',
];

async function main(): Promise<void> {
  const say = (line: string) => process.stdout.write(`chaos: ${line}\n`);
  say(
    `${AGENTS} agents, ${TASKS} tasks; faults: ${FAULTS.join(', ')} (parts: ${PART_NAMES.join(', ')})`,
  );
  const report = await runChaos({
    agents: AGENTS,
    tasks: TASKS,
    faults: FAULTS,
    deadlineMs: Number(process.env.CHAOS_DEADLINE_SECONDS ?? 300) * 1000,
    say,
  });
  process.stdout.write(`\n${recoveryTable(report)}\n\n`);
  const { boardMissed, ...rest } = report;
  const missed = boardMissed.length
    ? `${boardMissed.length} (${boardMissed.slice(0, 5).join(', ')}${boardMissed.length > 5 ? ', …' : ''})`
    : 0;
  const shown = { ...rest, recoveries: undefined, boardMissed: missed };
  process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  const broken = [
    report.doubles.length && `${report.doubles.length} double assignments`,
    report.lost.length && `${report.lost.length} lost tasks`,
    report.orphans.length && `${report.orphans.length} orphaned claims`,
    report.readModelMismatches.length &&
      `${report.readModelMismatches.length} read-model mismatches`,
    report.boardMissed.length && `${report.boardMissed.length} events the board missed`,
    report.leaks.length && `${report.leaks.length} error texts with internals`,
    report.notRunning.length && `parts not running: ${report.notRunning.join(', ')}`,
  ].filter(Boolean);
  if (broken.length) {
    say(`FAILED: ${broken.join('; ')}`);
    process.exit(1);
  }
  say('held: 0 doubles, 0 lost, 0 orphans, read model = workflows, board missed nothing');
  process.exit(0);
}

// Ctrl-C or a kill ends the run through process.exit, which stops what it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
