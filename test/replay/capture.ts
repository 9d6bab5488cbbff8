// `npm run corpus:capture`: runs the checked-out release on a stack of its own (Temporal dev
// server, a scratch database, Redis), drives it into every waiting state (scenarios.ts), and
// writes every run of every workflow to test/replay/histories/<version>/, plus the release's
// workflow sources to test/upgrade/releases/<version>.tgz for the upgrade test. See
// docs/operations.md, "Upgrading".
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { agentCredentialsWorkflowId } from '../../contracts/agent';
import { REPO_ROOT } from '../../platform/config';
import type { changeAgentCredentialsWorkflow } from '../../workflows/agent';
import { personalTokenWorkflowId, userChangeWorkflowId } from '../../contracts/user';
import { webhookChangeWorkflowId, webhookDeliveryWorkflowId } from '../../contracts/webhook';
import { stashWebhookSecret } from '../../db/webhooks';
import { ADMIN_ACTOR } from '../../contracts/actor';
import type { previewCleanupWorkflow } from '../../workflows/preview-cleanup';
import type { workerProbeWorkflow } from '../../workflows/probe';
import { startRunServices } from '../harness/services';
import { startTestApi } from '../support/api';
import { startTestWorker } from '../support/worker';
import { closedBy, compareVersions, CORPUS_DIR, fetchRuns, replayRelease } from './corpus';
import type { CorpusEntry, CorpusManifest } from './corpus';
import { driveToWaitingStates, MERGE_SCENARIOS, TASK_SCENARIOS } from './scenarios';
import type { MergeScenario, TaskScenario } from './scenarios';
import {
  archivedReleases,
  bundleRelease,
  RELEASES_DIR,
  unpackRelease,
  writeWorkflowSources,
} from '../upgrade/releases';

// The scenarios steer previews through gate files on this machine (scenarios.ts, GATE_SCRIPT),
// which a sandboxed preview cannot see: these runs use the operator's unsafe opt-out. The
// sandbox itself is tested in activities/preview/sandbox.test.ts.
process.env.AIWORKER_PREVIEW_SANDBOX = 'none';

const TASK_QUEUE = 'aiworker';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      release: { type: 'string' },
      from: { type: 'string', default: 'HEAD' },
      force: { type: 'boolean', default: false },
    },
  });
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  const release: string = values.release ?? pkg.version;
  const outDir = path.join(CORPUS_DIR, release);
  if (existsSync(outDir) && !values.force) {
    throw new Error(`${outDir} exists: release ${release} has a corpus (--force replaces it)`);
  }
  // The corpus must come from committed workflow code (`--from`, HEAD by default) that this
  // checkout runs unchanged, so the release can be rebuilt from it.
  const gitOut = (...args: string[]) =>
    execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const commit = gitOut('rev-parse', '--short=7', values.from);
  const changed = gitOut('diff', '--name-only', commit, '--', 'workflows', 'contracts');
  if (changed) throw new Error(`the workflow code differs from ${commit}:\n${changed}`);
  const log = (line: string) => process.stdout.write(`capture: ${line}\n`);

  const services = await startRunServices({ tag: 'corpus', continueAsNewAfterEvents: 40 });
  Object.assign(process.env, services.env);
  process.env.LOG_LEVEL = 'warn';
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'aiworker-corpus-'));
  const worker = await startTestWorker({ taskQueue: TASK_QUEUE, bundlePath: services.bundlePath });
  const api = await startTestApi({ taskQueue: TASK_QUEUE, connectionLimit: 5 });
  const quick = await startTestApi({
    taskQueue: TASK_QUEUE,
    adminToken: api.adminToken,
    leaseMs: 3000,
    questionReminderMs: 4000,
  });
  const client = api.deps.temporal.client;
  try {
    log(`release ${release} (commit ${commit}): driving the scenarios`);
    const world = await driveToWaitingStates(
      { apiUrl: api.url, adminToken: api.adminToken, quickApiUrl: quick.url },
      workdir,
      log,
    );
    const probe = await client.workflow.start<typeof workerProbeWorkflow>('workerProbeWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: `worker-probe-corpus`,
    });
    await probe.result();
    const cleanup = await client.workflow.start<typeof previewCleanupWorkflow>(
      'previewCleanupWorkflow',
      { taskQueue: TASK_QUEUE, workflowId: `preview-cleanup-corpus` },
    );
    await cleanup.result();
    // A second agent's token is replaced, then revoked: both credential changes are histories.
    const spare = await world.driver.http.post('/api/agents', {
      name: 'corpus spare agent',
      projectIds: [world.projectId],
    });
    const credentialChanges = [
      {
        label: 'rotated',
        change: {
          agentId: spare.body.agentId as string,
          action: 'rotate' as const,
          tokenHash: createHash('sha256').update(randomUUID()).digest('hex'),
          expiresAt: null,
        },
      },
      {
        label: 'revoked',
        change: { agentId: spare.body.agentId as string, action: 'revoke' as const },
      },
    ];
    for (const { label, change } of credentialChanges) {
      await client.workflow.execute<typeof changeAgentCredentialsWorkflow>(
        'changeAgentCredentialsWorkflow',
        {
          taskQueue: TASK_QUEUE,
          workflowId: agentCredentialsWorkflowId(change.agentId, `corpus-${label}`),
          args: [change],
        },
      );
    }

    // A person's account is made, changed and removed, and a token of theirs made and revoked.
    const personId = randomUUID();
    const tokenId = randomUUID();
    const people: Array<{ type: string; label: string; workflowId: string; input: unknown }> = [
      {
        type: 'changeUserWorkflow',
        label: 'created',
        workflowId: userChangeWorkflowId(personId, 'corpus-created'),
        input: {
          action: 'create',
          userId: personId,
          email: 'corpus@example.com',
          name: 'Corpus',
          role: 'member',
          projectIds: [world.projectId],
          passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$corpus$corpus',
        },
      },
      {
        type: 'changePersonalTokenWorkflow',
        label: 'created',
        workflowId: personalTokenWorkflowId(tokenId, 'corpus-created'),
        input: {
          action: 'create',
          tokenId,
          userId: personId,
          name: 'corpus',
          tokenHash: createHash('sha256').update(randomUUID()).digest('hex'),
          projectIds: null,
          expiresAt: null,
        },
      },
      {
        type: 'changePersonalTokenWorkflow',
        label: 'revoked',
        workflowId: personalTokenWorkflowId(tokenId, 'corpus-revoked'),
        input: { action: 'revoke', tokenId, userId: personId },
      },
      {
        type: 'changeUserWorkflow',
        label: 'updated',
        workflowId: userChangeWorkflowId(personId, 'corpus-updated'),
        input: { action: 'update', userId: personId, role: 'viewer' },
      },
      {
        type: 'changeUserWorkflow',
        label: 'disabled',
        workflowId: userChangeWorkflowId(personId, 'corpus-disabled'),
        input: { action: 'disable', userId: personId },
      },
    ];
    for (const { type, workflowId, input } of people) {
      await client.workflow.execute(type, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
    }

    // A webhook is added, receives a new task's event, and is deleted.
    const receiver = http.createServer((req, res) => {
      req.resume().on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const webhookId = randomUUID();
    // As the API does: the secret waits in the database, the workflow carries its reference.
    const secretRef = await stashWebhookSecret(api.deps.db, webhookId, 'corpus-webhook-secret');
    const webhookChanges = [
      {
        label: 'created',
        workflowId: webhookChangeWorkflowId(webhookId, 'corpus-created'),
        input: {
          action: 'create',
          webhookId,
          projectId: world.projectId,
          url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
          secretRef,
          events: ['task:created'],
          actor: ADMIN_ACTOR,
        },
      },
      {
        label: 'deleted',
        workflowId: webhookChangeWorkflowId(webhookId, 'corpus-deleted'),
        input: { action: 'delete', webhookId, projectId: world.projectId, actor: ADMIN_ACTOR },
      },
    ];
    await client.workflow.execute('changeWebhookWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: webhookChanges[0]!.workflowId,
      args: [webhookChanges[0]!.input],
    });
    await world.driver.http.post('/api/tasks', {
      projectId: world.projectId,
      title: 'corpus webhook delivery',
      description: '',
    });
    const hookPath = `/api/projects/${world.projectId}/webhooks/${webhookId}`;
    let delivered: { eventSeq: number } | undefined;
    for (let i = 0; i < 600 && !delivered; i += 1) {
      const recent = (await world.driver.http.get(hookPath)).body.recentDeliveries ?? [];
      delivered = recent.find((d: { state: string }) => d.state === 'delivered');
      if (!delivered) await new Promise((r) => setTimeout(r, 100));
    }
    if (!delivered) throw new Error('the corpus webhook was never delivered');
    const deliveryId = webhookDeliveryWorkflowId(webhookId, delivered.eventSeq);
    await client.workflow.getHandle(deliveryId).result();
    await client.workflow.execute('changeWebhookWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: webhookChanges[1]!.workflowId,
      args: [webhookChanges[1]!.input],
    });
    receiver.close();

    const entries: CorpusEntry[] = [];
    // A run captured twice with nothing new (the first runs of a task captured again later)
    // is kept once.
    const captured = new Map<string, number>();
    const capture = async (
      workflowType: string,
      label: string,
      workflowId: string,
      phase: CorpusEntry['phase'],
      state: string | null,
    ) => {
      const runs = await fetchRuns(client, workflowId);
      runs.forEach(({ runId, history }, i) => {
        const events = history.events?.length ?? 0;
        if (captured.get(runId) === events) return;
        captured.set(runId, events);
        const suffix = phase === 'finished' ? '.finished' : '';
        const file = `${workflowType}/${label}${suffix}.r${i + 1}.json`;
        mkdirSync(path.join(outDir, workflowType), { recursive: true });
        writeFileSync(path.join(outDir, file), historyToJSON(history) + '\n');
        entries.push({
          file,
          workflowType,
          label,
          state,
          phase,
          workflowId,
          runId,
          run: i + 1,
          runs: runs.length,
          events,
          closedBy: closedBy(history),
        });
      });
    };
    rmSync(outDir, { recursive: true, force: true });
    const captureTask = async (label: TaskScenario, phase: CorpusEntry['phase']) => {
      const taskId = world.tasks[label];
      const { state } = await world.driver.task(taskId);
      await capture('taskWorkflow', label, `task-${taskId}`, phase, state as string);
    };
    const captureMerge = async (label: MergeScenario, phase: CorpusEntry['phase']) => {
      const mergeId = world.merges[label];
      const { state } = await world.driver.mergeState(mergeId);
      await capture('mergeBatchWorkflow', label, `merge-${mergeId}`, phase, state as string);
    };
    for (const label of TASK_SCENARIOS) await captureTask(label, 'waiting');
    // The queued batch has no workflow yet: the queue starts it when its turn comes.
    for (const label of MERGE_SCENARIOS.filter((l) => l !== 'queued')) {
      await captureMerge(label, 'waiting');
    }
    const queueId = `merge-queue-${world.projectId}`;
    await capture('mergeQueueWorkflow', 'running', queueId, 'waiting', null);
    const projectWorkflowId = `project-${world.projectId}`;
    await capture('createProjectWorkflow', 'created', projectWorkflowId, 'waiting', null);
    await capture('registerAgentWorkflow', 'registered', `agent-${world.agentId}`, 'waiting', null);
    for (const { label, change } of credentialChanges) {
      await capture(
        'changeAgentCredentialsWorkflow',
        label,
        agentCredentialsWorkflowId(change.agentId, `corpus-${label}`),
        'finished',
        null,
      );
    }
    for (const { type, label, workflowId } of people) {
      await capture(type, label, workflowId, 'finished', null);
    }
    for (const { label, workflowId } of webhookChanges) {
      await capture('changeWebhookWorkflow', label, workflowId, 'finished', null);
    }
    await capture('webhookDeliveryWorkflow', 'delivered', deliveryId, 'finished', null);
    await capture('workerProbeWorkflow', 'probed', probe.workflowId, 'waiting', null);
    await capture('previewCleanupWorkflow', 'swept', cleanup.workflowId, 'waiting', null);

    // The held deploy goes on; the queued batch runs after it.
    world.releaseHold();
    await world.driver.untilMerge(world.merges.queued, ['completed']);
    for (const label of ['in_merge', 'merge_queued'] as const) await captureTask(label, 'finished');
    for (const label of ['deploying', 'queued'] as const) await captureMerge(label, 'finished');
    await capture('mergeQueueWorkflow', 'running', queueId, 'finished', null);
    await world.close();

    const describe = execFileSync(
      path.join(REPO_ROOT, '.tools/temporal/bin/temporal'),
      ['--version'],
      {
        encoding: 'utf8',
      },
    ).trim();
    const manifest: CorpusManifest = {
      release,
      commit,
      capturedAt: new Date().toISOString(),
      temporalServer: describe,
      sdk: JSON.parse(
        readFileSync(path.join(REPO_ROOT, 'node_modules/@temporalio/worker/package.json'), 'utf8'),
      ).version,
      rollback: null,
      histories: entries,
    };
    const archive = writeWorkflowSources(release, commit);
    manifest.rollback = await rollbackCheck(release, outDir, manifest);
    writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    if (manifest.rollback) {
      const { to, replayed, of } = manifest.rollback;
      log(`rolling back to ${to}: its workflow code replays ${replayed} of ${of} histories`);
    }
    log(`wrote ${entries.length} histories to ${path.relative(REPO_ROOT, outDir)}`);
    log(`wrote the workflow sources to ${path.relative(REPO_ROOT, archive)} (${RELEASES_DIR})`);
  } finally {
    await quick.close();
    await api.close();
    await worker.stop();
    await services.stop();
    rmSync(workdir, { recursive: true, force: true });
  }
}

/**
 * Replays the new corpus against the workflow code of the release before it: whether workers
 * could be rolled back to that release without stranding the histories this one writes.
 */
async function rollbackCheck(
  release: string,
  outDir: string,
  manifest: CorpusManifest,
): Promise<CorpusManifest['rollback']> {
  const previous = archivedReleases()
    .filter((r) => compareVersions(r, release) < 0)
    .pop();
  if (!previous) return null;
  const dir = unpackRelease(previous);
  const bundlePath = path.join(outDir, '..', `.rollback-${previous}.js`);
  try {
    writeFileSync(bundlePath, await bundleRelease(dir));
    writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    const failures = await replayRelease(release, bundlePath);
    const of = manifest.histories.length;
    return { to: previous, replayed: of - failures.length, of };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(bundlePath, { force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `capture: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
