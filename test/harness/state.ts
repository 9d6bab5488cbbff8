import type { RunServices } from './services';

/** What global-setup leaves for global-teardown (same process). */
export type HarnessState = Pick<RunServices, 'stop'>;

const KEY = '__aiworkerHarness';

export function saveHarness(state: HarnessState): void {
  (globalThis as Record<string, unknown>)[KEY] = state;
}

export function takeHarness(): HarnessState | undefined {
  return (globalThis as Record<string, unknown>)[KEY] as HarnessState | undefined;
}
