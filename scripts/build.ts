// `npm run build`: the production build, written to dist/. Compiles the server code to
// JavaScript (tsconfig.build.json), copies the files it reads at run time beside it, bundles the
// workflow code once (the worker loads dist/workflow-bundle.js instead of bundling at every start)
// and builds the board into web/dist. `npm start`, the container and k8s run this output.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DIST_DIR, REPO_ROOT } from '../platform/config';
import { WORKFLOW_BUNDLE_FILE, WORKFLOW_BUNDLE_OPTIONS } from '../worker/create-worker';

const say = (line: string) => process.stdout.write(`build: ${line}\n`);

/** Files the compiled code reads beside itself (paths relative to the repository and to dist/). */
const RUNTIME_FILES = ['activities/preview/sandbox-launcher.mjs', 'prisma/migrations'];

function run(command: string, args: string[]): void {
  execFileSync(command, args, { cwd: REPO_ROOT, stdio: 'inherit' });
}

async function main(): Promise<void> {
  const started = performance.now();
  rmSync(DIST_DIR, { recursive: true, force: true });
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
  say('server compiled into dist/');
  for (const file of RUNTIME_FILES) {
    cpSync(path.join(REPO_ROOT, file), path.join(DIST_DIR, file), { recursive: true });
  }
  const { code } = await bundleWorkflowCode({
    ...WORKFLOW_BUNDLE_OPTIONS,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: say, error: say },
  });
  mkdirSync(path.dirname(WORKFLOW_BUNDLE_FILE), { recursive: true });
  writeFileSync(WORKFLOW_BUNDLE_FILE, code);
  say(`workflow code bundled: ${(code.length / 1024 / 1024).toFixed(2)} MiB`);
  const vite = path.join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  run(process.execPath, [vite, 'build', 'web', '--logLevel', 'warn']);
  say(`board built into web/dist; done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
