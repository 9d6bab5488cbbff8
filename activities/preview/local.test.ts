import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isAlive, isListening } from '../../test/support/processes';
import { git } from '../forge/git';
import { createLocalRuntime } from './local';
import { PreviewFailed } from './runtime';
import type { PreviewConfig, PreviewRuntime, PreviewSpec } from './runtime';

const FIXTURE = path.join(__dirname, '../../test/fixtures/preview-app');
const APP_CONFIG: PreviewConfig = {
  installCommand: 'npm install --no-audit --no-fund',
  startCommand: 'node server.js',
  healthPath: '/healthz',
};

/** The process groups of the processes whose working directory is `dir`. */
function groupsWorkingIn(dir: string): number[] {
  const groups = new Set<number>();
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (!readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      groups.add(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]));
    } catch {
      // gone meanwhile
    }
  }
  return [...groups];
}

describe('local preview runtime', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'aiworker-previews-'));
  // Previews run as users of their own when the tests run as root: they must reach their checkout.
  chmodSync(tmp, 0o711);
  const previewsDir = path.join(tmp, 'previews');
  const origin = path.join(tmp, 'origin.git');
  const work = path.join(tmp, 'work');
  let runtime: PreviewRuntime;
  let first: string;

  const run = async (...args: string[]) => (await git(args, { cwd: work })).stdout.trim();

  /** Commits `message` as the app's message on main and pushes it; returns the commit. */
  async function pushMessage(message: string): Promise<string> {
    writeFileSync(path.join(work, 'message.txt'), `${message}\n`);
    await run('add', '--all');
    await run('commit', '--quiet', '-m', message);
    await run('push', '--quiet', 'origin', 'main');
    return await run('rev-parse', 'HEAD');
  }

  function spec(name: string, commit: string, config: PreviewConfig = APP_CONFIG): PreviewSpec {
    return {
      name,
      projectId: 'p-1',
      taskId: name === 'task-1' ? '1' : null,
      branch: 'main',
      commit,
      cloneUrl: pathToFileURL(origin).href,
      gitEnv: {},
      config,
    };
  }

  function stateOf(name: string): { pid: number; port: number; commit: string } {
    return JSON.parse(readFileSync(path.join(previewsDir, name, 'preview.json'), 'utf8'));
  }

  async function page(url: string): Promise<string> {
    const res = await fetch(url.replace('//localhost:', '//127.0.0.1:'));
    expect(res.status).toBe(200);
    return await res.text();
  }

  beforeAll(async () => {
    await git(['init', '--quiet', '--bare', '--initial-branch=main', origin]);
    cpSync(FIXTURE, work, { recursive: true });
    await git(['init', '--quiet', '--initial-branch=main'], { cwd: work });
    await run('remote', 'add', 'origin', origin);
    first = await pushMessage('Hello from the first commit');
    runtime = createLocalRuntime({ previewsDir, readyTimeoutMs: 30_000 });
  });
  afterAll(async () => {
    for (const p of await runtime.list()) await runtime.teardown(p.name);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('deploys a commit and serves it, then reuses the running preview for the same commit', async () => {
    const progress: string[] = [];
    const info = await runtime.deploy(spec('task-1', first), (d) => progress.push(d));
    const { pid, port } = stateOf('task-1');
    expect(info).toEqual({
      name: 'task-1',
      projectId: 'p-1',
      taskId: '1',
      url: `http://localhost:${port}`,
      commit: first,
      createdAt: expect.any(String),
    });
    expect(await page(info.url)).toContain('Hello from the first commit');
    expect(progress.length).toBeGreaterThan(0);
    const log = readFileSync(path.join(previewsDir, 'task-1', 'preview.log'), 'utf8');
    expect(log).toContain('$ npm install --no-audit --no-fund');
    expect(log).toContain(`preview-app listening on ${port}`);

    expect(await runtime.deploy(spec('task-1', first))).toEqual(info);
    expect(stateOf('task-1').pid).toBe(pid);
    // A runtime created afresh (a restarted worker) finds the same preview running.
    const restarted = createLocalRuntime({ previewsDir, readyTimeoutMs: 30_000 });
    expect(await restarted.deploy(spec('task-1', first))).toEqual(info);
    expect(stateOf('task-1').pid).toBe(pid);
  });

  it('updates a preview in place for a new commit, on the same port', async () => {
    const before = stateOf('task-1');
    const second = await pushMessage('Changed by the second commit');
    const info = await runtime.deploy(spec('task-1', second));
    expect(info.commit).toBe(second);
    expect(info.url).toBe(`http://localhost:${before.port}`);
    const page2 = await page(info.url);
    expect(page2).toContain('Changed by the second commit');
    expect(page2).not.toContain('Hello from the first commit');
    expect(stateOf('task-1').pid).not.toBe(before.pid);
    expect(isAlive(before.pid)).toBe(false);
  });

  it('fails with the log of an app that exits before answering, or of a failed install', async () => {
    const crashing = {
      startCommand: 'echo "fatal: DATABASE_URL is not set" >&2; exit 3',
    };
    const attempt = runtime.deploy(spec('task-crash', first, crashing));
    await expect(attempt).rejects.toThrow(PreviewFailed);
    await expect(attempt).rejects.toThrow(/exit code 3[\s\S]*DATABASE_URL is not set/);
    await expect(
      runtime.deploy(
        spec('task-bad-install', first, {
          installCommand: 'echo "cannot resolve dependency left-pad" >&2; exit 7',
          startCommand: 'node server.js',
        }),
      ),
    ).rejects.toThrow(/failed \(exit code 7\)[\s\S]*cannot resolve dependency left-pad/);
    await expect(runtime.deploy(spec('task-none', first, {}))).rejects.toThrow(/no start command/);
    expect((await runtime.list()).map((p) => p.name)).toEqual(['task-1']);
  });

  it('lets only the later of two deploy attempts of a preview run, and record, its app', async () => {
    // Two workers' runtimes deploying the same preview at once: an activity retried elsewhere
    // while its first attempt goes on. The earlier attempt gives up; no app is left unrecorded.
    const other = createLocalRuntime({ previewsDir, readyTimeoutMs: 30_000 });
    const config = { startCommand: 'node server.js' };
    const [earlier, later] = await Promise.allSettled([
      runtime.deploy(spec('task-race', first, config)),
      other.deploy(spec('task-race', first, config)),
    ]);
    other.close();
    expect(earlier.status).toBe('rejected');
    expect(String((earlier as PromiseRejectedResult).reason)).toMatch(/a later deploy of it/);
    expect(later.status).toBe('fulfilled');
    const { pid } = stateOf('task-race');
    const appDir = path.join(previewsDir, 'task-race', 'app');
    expect(groupsWorkingIn(appDir)).toEqual([pid]);
    expect(await runtime.teardown('task-race')).toBe(true);
    expect(groupsWorkingIn(appDir)).toEqual([]);
  });

  it('stops the app of a deploy cancelled as it starts, rather than leave it unrecorded', async () => {
    // A cancelled activity's progress report throws: here, as the app starts.
    const cancelled = runtime.deploy(
      spec('task-cancelled', first, { startCommand: 'node server.js' }),
      (d) => {
        if (d.startsWith('starting on port')) throw new Error('cancelled');
      },
    );
    await expect(cancelled).rejects.toThrow('cancelled');
    expect(groupsWorkingIn(path.join(previewsDir, 'task-cancelled', 'app'))).toEqual([]);
    expect((await runtime.list()).map((p) => p.name)).not.toContain('task-cancelled');
    await runtime.teardown('task-cancelled');
  });

  it('lists running previews and tears them down', async () => {
    const staging = await runtime.deploy(
      spec('staging-p-1', first, { startCommand: 'node server.js' }),
    );
    expect((await runtime.list()).map((p) => p.name).sort()).toEqual(['staging-p-1', 'task-1']);
    expect(await page(staging.url)).toContain('Hello from the first commit');

    const { pid, port } = stateOf('task-1');
    expect(await runtime.teardown('task-1')).toBe(true);
    expect(await isListening(port)).toBe(false);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(path.join(previewsDir, 'task-1'))).toBe(false);
    expect(await runtime.teardown('task-1')).toBe(false);
    expect((await runtime.list()).map((p) => p.name)).toEqual(['staging-p-1']);
  });
});
