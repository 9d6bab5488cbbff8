// The smallest workflow that answers the same kinds of messages as a task workflow: the engine's
// own rate for a start, an update, and an update whose handler runs an activity (bench/engine.ts).
import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

export const touchUpdate = defineUpdate<number>('touch');
export const touchAndRunUpdate = defineUpdate<number>('touchAndRun');

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function engineWorkflow(): Promise<void> {
  let touched = 0;
  let done = false;
  setHandler(touchUpdate, () => ++touched);
  setHandler(touchAndRunUpdate, async () => {
    await noop();
    done = true;
    return ++touched;
  });
  await condition(() => done);
}
