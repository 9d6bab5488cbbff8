import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DIST_DIR, REPO_ROOT } from '../platform/config';
import { WORKFLOW_BUNDLE_FILE } from '../worker/create-worker';

/** Every compiled JavaScript file under `dir`. */
function scripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(js|mjs)$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** The package a bare module name belongs to (`@scope/name/sub` → `@scope/name`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** `npm run build`'s output, as the image runs it (the smoke test starts it). */
describe('the compiled build', () => {
  beforeAll(() => {
    if (!existsSync(path.join(DIST_DIR, 'scripts', 'start.js')))
      throw new Error('no build in dist/: run `npm run build` (npm test does)');
  });

  it('needs only production dependencies: the image installs no others', () => {
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    const files = scripts(DIST_DIR).filter((file) => file !== WORKFLOW_BUNDLE_FILE);
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(
        /\brequire\(["']([^"']+)["']\)|\bfrom ["']([^"']+)["']/g,
      )) {
        const specifier = match[1] ?? match[2];
        if (!specifier || specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        const name = packageOf(specifier);
        if (!builtins.has(name) && !(name in manifest.dependencies))
          missing.add(`${name} (${path.relative(DIST_DIR, file)})`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it('carries the files the compiled code reads at run time, and the workflow bundle', () => {
    for (const file of [
      'activities/preview/sandbox-launcher.mjs',
      'prisma/migrations',
      'workflow-bundle.js',
    ])
      expect(existsSync(path.join(DIST_DIR, file))).toBe(true);
    expect(existsSync(path.join(REPO_ROOT, 'web', 'dist', 'index.html'))).toBe(true);
  });

  it('keeps workflow code lean: no validation library in the bundle every worker loads', () => {
    const bundle = readFileSync(WORKFLOW_BUNDLE_FILE, 'utf8');
    expect(bundle).not.toContain('node_modules/zod/');
    // The code itself, without its inline source map: the SDK, the tracing interceptors, ours.
    const code = bundle.slice(0, bundle.indexOf('//# sourceMappingURL='));
    expect(code.length).toBeLessThan(1.6 * 2 ** 20);
  });
});
