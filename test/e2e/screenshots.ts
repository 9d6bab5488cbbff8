import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../platform/config';

/**
 * Where the e2e tests save the board's pictures: docs/screenshots (the README shows them) only
 * under `npm run screenshots`; a plain test run writes them to a temporary folder, so tests never
 * change tracked files.
 */
const SCREENSHOTS =
  process.env.AIWORKER_SCREENSHOTS === 'docs'
    ? path.join(REPO_ROOT, 'docs', 'screenshots')
    : path.join(os.tmpdir(), 'aiworker-e2e', 'screenshots');

/** The file a screenshot called `name` is written to. */
export function screenshotFile(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}
