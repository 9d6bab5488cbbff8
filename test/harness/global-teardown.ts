import { takeHarness } from './state';

/** Stops the run's Temporal server and previews, drops its database (test/harness/services.ts). */
export default async function globalTeardown(): Promise<void> {
  await takeHarness()?.stop();
}
