import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  bundleWorkflowCode,
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
} from '@temporalio/worker';
import * as workflows from '../../workflows';
import { quietBundlerLogger } from '../harness/services';
import {
  compareVersions,
  corpusReleases,
  describeFailure,
  readManifest,
  replayRelease,
} from './corpus';
import { MERGE_SCENARIOS, TASK_SCENARIOS } from './scenarios';

/**
 * Tasks wait for weeks, and a new release must carry on every task an earlier release left
 * waiting. Every history captured from every release (test/replay/histories, written by
 * `npm run corpus:capture`) is replayed against the current workflow code; one that no longer
 * replays would strand its workflow after an upgrade (docs/architecture.md, "Changing workflow
 * code").
 */
/** The release that first had each workflow type introduced after 0.1.0. */
const INTRODUCED_IN: Record<string, string> = {
  changeAgentCredentialsWorkflow: '0.3.0',
  changeUserWorkflow: '0.4.0',
  changePersonalTokenWorkflow: '0.4.0',
  changeWebhookWorkflow: '0.5.0',
  webhookDeliveryWorkflow: '0.5.0',
};

describe('replay corpus', () => {
  jest.setTimeout(120_000);
  const bundle = process.env.AIWORKER_TEST_WORKFLOW_BUNDLE!;
  const releases = corpusReleases();

  // Replay workers log every nondeterminism they meet; the drift test meets one on purpose.
  beforeAll(() => {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
    });
  });
  afterAll(async () => {
    await Runtime.instance().shutdown();
  });

  it('has the histories of the first release and of the current version', () => {
    expect(releases).toContain('0.1.0');
    const { version } = JSON.parse(
      readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'),
    ) as { version: string };
    expect(releases).toContain(version);
  });

  it.each(releases)(
    'every history of release %s replays on the current workflow code',
    async (release) => {
      const failures = await replayRelease(release, bundle);
      expect(failures.map(describeFailure)).toEqual([]);
    },
  );

  it.each(releases)('release %s covers every workflow type and every waiting state', (release) => {
    const { histories } = readManifest(release);
    const labels = (type: string) =>
      new Set(histories.filter((h) => h.workflowType === type).map((h) => h.label));
    // A workflow type a later release introduced has no histories in earlier ones.
    const existing = Object.keys(workflows).filter(
      (type) => compareVersions(release, INTRODUCED_IN[type] ?? '0.1.0') >= 0,
    );
    expect([...new Set(histories.map((h) => h.workflowType))].sort()).toEqual(existing.sort());
    expect([...labels('taskWorkflow')].sort()).toEqual([...TASK_SCENARIOS].sort());
    expect([...labels('mergeBatchWorkflow')].sort()).toEqual([...MERGE_SCENARIOS].sort());
    // Waiting: captured while the workflow is open in that state, not only after it finished.
    const open = histories.filter((h) => h.closedBy === null && h.phase === 'waiting');
    expect(new Set(open.map((h) => h.label))).toEqual(
      new Set([
        ...TASK_SCENARIOS.filter((s) => s !== 'staged' && s !== 'cancelled'),
        'deploying',
        'running',
      ]),
    );
    // Runs that began with continue-as-new carry a snapshot from the previous run.
    expect(histories.some((h) => h.workflowType === 'taskWorkflow' && h.run > 1)).toBe(true);
  });

  it('fails on a change that would strand tasks in flight, naming the state and the event', async () => {
    const drifted = await bundleWorkflowCode({
      workflowsPath: path.join(__dirname, 'fixtures', 'drifted-workflows.ts'),
      logger: quietBundlerLogger,
    });
    const file = path.join(process.env.AIWORKER_TEST_RUN_DIR!, 'drifted-bundle.js');
    writeFileSync(file, drifted.code);
    const failures = await replayRelease(
      '0.1.0',
      file,
      (h) => h.label === 'needs_input' && h.run === 1,
    );
    expect(failures).toHaveLength(1);
    const line = describeFailure(failures[0]!);
    expect(line).toContain('taskWorkflow "needs_input" (waiting, state needs_input, run 1 of');
    expect(line).toMatch(/no longer replays at event #\d+ \w+: .*[Nn]ondeterminism/);
  });
});
