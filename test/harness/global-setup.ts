import { startRunServices } from './services';
import { saveHarness } from './state';

/** History length at which the test server suggests continue-as-new. */
const CONTINUE_AS_NEW_AFTER_EVENTS = 40;

/**
 * Once per `jest` run: a real Temporal dev server and a throwaway MariaDB database with every
 * migration applied (test/harness/services.ts). Test files find them through TEMPORAL_ADDRESS
 * and DATABASE_URL; workers share one workflow bundle instead of each bundling the code again.
 */
export default async function globalSetup(): Promise<void> {
  // Temporal suggests continue-as-new after a few dozen events instead of thousands, so every
  // test that drives a task through its lifecycle also crosses into new runs.
  const services = await startRunServices({
    tag: 'test',
    continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER_EVENTS,
  });
  Object.assign(process.env, services.env);
  process.env.AIWORKER_TEST_WORKFLOW_BUNDLE = services.bundlePath;
  process.env.AIWORKER_TEST_RUN_DIR = services.runDir;
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'warn';
  // Test files run in parallel against one Redis, all from 127.0.0.1: the run's limits are
  // generous so one file's refusals never spill into another's. test/limits.test.ts starts its
  // API with the real ones.
  process.env.AIWORKER_AUTH_FAILURES_PER_MINUTE = '100000';
  process.env.AIWORKER_AGENT_REQUESTS_PER_SECOND = '10000';
  process.env.AIWORKER_AGENT_CONCURRENT_REQUESTS = '1000';
  // Flow tests read every progress note; test/limits.test.ts checks the coalescing.
  process.env.AIWORKER_PROGRESS_INTERVAL_SECONDS = '0';
  // Webhook deliveries retry within a fraction of a second, so a receiver that was down is
  // reached again soon after it is back.
  process.env.AIWORKER_WEBHOOK_RETRY_SECONDS = '0.2';
  process.env.AIWORKER_WEBHOOK_RETRY_MAX_SECONDS = '0.5';
  saveHarness(services);
}
