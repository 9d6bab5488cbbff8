// The smallest workflow that answers the same kinds of messages as a task workflow: the engine's
// own rate for a start, an update, and an update whose handler runs an activity (bench/engine.ts),
// with or without the search attributes a task workflow records when it changes state.
import {
  condition,
  defineUpdate,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { agentIdKey, taskStateKey } from '../contracts/search-attributes';

export const touchUpdate = defineUpdate<number>('touch');
export const touchAndRunUpdate = defineUpdate<number>('touchAndRun');
/** As `touchAndRun`, recording the two search attributes a claim changes first. */
export const touchMarkAndRunUpdate = defineUpdate<number>('touchMarkAndRun');

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function engineWorkflow(): Promise<void> {
  let touched = 0;
  let done = false;
  setHandler(touchUpdate, () => ++touched);
  const run = async () => {
    await noop();
    done = true;
    return ++touched;
  };
  setHandler(touchAndRunUpdate, run);
  setHandler(touchMarkAndRunUpdate, () => {
    upsertSearchAttributes([
      { key: taskStateKey, value: 'in_progress' },
      { key: agentIdKey, value: 'engine' },
    ]);
    return run();
  });
  await condition(() => done);
}
