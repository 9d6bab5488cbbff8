import { recoveryTable, runChaos } from './chaos/chaos';

/**
 * The chaos suite, light (`npm run chaos` is the full run): agents, a person and a board against
 * two API processes and two workers on services of their own, while each kind of part (worker,
 * API, Temporal, MariaDB, Redis) is SIGKILLed mid-load and brought back by the supervisor alone.
 */
describe('chaos', () => {
  it('holds through killing each part: no double, lost or orphaned task, nothing missed', async () => {
    const report = await runChaos({
      agents: 4,
      tasks: 30,
      faults: ['worker-1', 'api-1', 'temporal', 'mariadb', 'redis'],
      deadlineMs: 240_000,
    });
    console.log(
      `${recoveryTable(report)}\nerrors seen by clients: ${JSON.stringify(report.errorCodes)}`,
    );
    expect({
      doubles: report.doubles,
      lost: report.lost,
      orphans: report.orphans,
      readModelMismatches: report.readModelMismatches,
      boardMissed: report.boardMissed,
      leaks: report.leaks,
      notRunning: report.notRunning,
    }).toEqual({
      doubles: [],
      lost: [],
      orphans: [],
      readModelMismatches: [],
      boardMissed: [],
      leaks: [],
      notRunning: [],
    });
    expect(report.tasks).toBeGreaterThanOrEqual(30);
    expect(report.claims).toBe(report.tasks);
    expect(report.recoveries.map((r) => r.part)).toEqual([
      'worker-1',
      'api-1',
      'temporal',
      'mariadb',
      'redis',
    ]);
  }, 420_000);
});
