/** What global-setup leaves for global-teardown (same process). */
export interface HarnessState {
  stopTemporal(): Promise<void>;
  databaseUrl: string;
  runDir: string;
}

const KEY = '__aiworkerHarness';

export function saveHarness(state: HarnessState): void {
  (globalThis as Record<string, unknown>)[KEY] = state;
}

export function takeHarness(): HarnessState | undefined {
  return (globalThis as Record<string, unknown>)[KEY] as HarnessState | undefined;
}
