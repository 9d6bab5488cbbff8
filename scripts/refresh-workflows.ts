// `npm run workflows:refresh`: asks every running task workflow and merge queue of this
// deployment's task queue to continue as new at its next safe point, so that from then on it
// runs the workflow code of the release the workers run, with no history of earlier releases to
// replay (docs/operations.md, "Upgrading"). Nothing else about a task changes; safe to run any
// time, and again. `--dry-run` only counts them.
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { continueAsNewSignal } from '../contracts/messages';
import { loadConfigOrExit } from '../platform/config';
import { temporalConnectionOptions } from '../platform/temporal';

const LONG_LIVED = ['taskWorkflow', 'mergeQueueWorkflow'];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false } } });
  const config = loadConfigOrExit();
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const types = LONG_LIVED.map((t) => `'${t}'`).join(', ');
  const query =
    `ExecutionStatus = 'Running' AND TaskQueue = '${config.temporal.taskQueue}' ` +
    `AND WorkflowType IN (${types})`;
  let signalled = 0;
  try {
    for await (const wf of client.workflow.list({ query })) {
      if (values['dry-run']) {
        signalled += 1;
        continue;
      }
      try {
        await client.workflow.getHandle(wf.workflowId).signal(continueAsNewSignal);
        signalled += 1;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err; // finished meanwhile
      }
    }
  } finally {
    await connection.close();
  }
  process.stdout.write(
    `workflows:refresh: ${signalled} running ${LONG_LIVED.join(' and ')} workflows ` +
      `${values['dry-run'] ? 'would be' : 'were'} asked to continue as new on the current code\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`workflows:refresh: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
