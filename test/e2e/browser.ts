import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { REPO_ROOT } from '../../platform/config';

/** Debian's package; `CHROMIUM_PATH` points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A headless Chromium; fails with how to install it rather than skipping the tests. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the browser tests need Chromium at ${CHROMIUM}, which is missing. Install it with ` +
        '`apt-get install chromium` as root (npm run setup does it), or set CHROMIUM_PATH to a ' +
        'Chromium or Chrome binary. (`npx playwright install` cannot download browsers here.)',
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

const WEB = path.join(REPO_ROOT, 'web');
const BUILT = path.join(WEB, 'dist', 'index.html');

function newestChange(file: string): number {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(
    stat.mtimeMs,
    ...readdirSync(file).map((name) => newestChange(path.join(file, name))),
  );
}

/** Builds the board (as `npm run build:web` does) unless web/dist is newer than its sources. */
export function ensureWebBuilt(): void {
  const sources = ['src', 'index.html', 'vite.config.mts'].map((f) => path.join(WEB, f));
  const changed = Math.max(...sources.map(newestChange));
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs > changed) return;
  execFileSync(
    process.execPath,
    [
      path.join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      'web',
      '--logLevel',
      'warn',
    ],
    {
      cwd: REPO_ROOT,
      // jest sets NODE_ENV=test, which would give a development build of React.
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 120_000,
    },
  );
}
