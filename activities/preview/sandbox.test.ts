import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isListening } from '../../test/support/processes';
import { git } from '../forge/git';
import { createLocalRuntime } from './local';
import type { LocalPreviewRuntime } from './local';
import { groupAlive } from './process-groups';
import type { PreviewConfig, PreviewSpec } from './runtime';
import { checkDataFolderHidden } from './sandbox';
import { DEFAULT_SANDBOX } from './sandbox-config';
import { loadConfig } from '../../platform/config';

const FIXTURE = path.join(__dirname, '../../test/fixtures/hostile-preview');
const asRoot = process.getuid?.() === 0;

/** Whether something on this machine accepts a TCP connection at host:port. */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** This machine's first IPv4 address that is not loopback. */
function externalAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this machine has no IPv4 address besides loopback; the test needs one');
}

/** Uid of every live process of group `pgid`, as the host sees them. */
function uidsOfGroup(pgid: number): number[] {
  const uids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[2] !== String(pgid) || fields[0] === 'Z') continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      uids.push(Number(/^Uid:\s+(\d+)/m.exec(status)![1]));
    } catch {
      // Gone meanwhile.
    }
  }
  return uids;
}

/**
 * The branch's code is untrusted: a hostile app (test/fixtures/hostile-preview) tries everything
 * an app could to reach what is not its own, and reports what it got.
 */
describe('the local preview sandbox', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'aiworker-sandbox-'));
  const dataDir = path.join(tmp, 'data');
  const previewsDir = path.join(dataDir, 'previews');
  const origin = path.join(tmp, 'origin.git');
  const work = path.join(tmp, 'work');
  const adminToken = `admin-${randomUUID()}`;
  const marker = `marker-${randomUUID()}`;
  const hostIp = externalAddress();
  let hostServer: Server;
  let hostPort: number;
  let runtime: LocalPreviewRuntime;
  let commit: string;

  function spec(name: string, config: PreviewConfig): PreviewSpec {
    return {
      name,
      projectId: 'p-sandbox',
      taskId: null,
      branch: 'main',
      commit,
      cloneUrl: pathToFileURL(origin).href,
      gitEnv: {},
      config,
    };
  }

  function stateOf(name: string): { pid: number; port: number; uid: number | null } {
    return JSON.parse(readFileSync(path.join(previewsDir, name, 'preview.json'), 'utf8'));
  }

  async function get(name: string, route: string): Promise<any> {
    const res = await fetch(`http://127.0.0.1:${stateOf(name).port}${route}`);
    expect(res.status).toBe(200);
    return await res.json();
  }

  const probeEnv = () => ({
    PROBE_ADMIN_TOKEN: path.join(dataDir, 'admin-token'),
    PROBE_DATA_DIR: dataDir,
    PROBE_OTHER_FILE: path.join(previewsDir, 'task-victim', 'app', 'secret.txt'),
    PROBE_JEST_PID: String(process.pid),
    PROBE_TEMPORAL: process.env.TEMPORAL_ADDRESS!,
    PROBE_HOST_IP: hostIp,
    PROBE_HOST_PORT: String(hostPort),
  });

  beforeAll(async () => {
    // Searchable by the previews' users (as a data folder must be), and nothing more: the
    // admin token is even readable by anyone, so only the sandbox keeps it from the app.
    chmodSync(tmp, 0o711);
    mkdirSync(dataDir, { mode: 0o755 });
    writeFileSync(path.join(dataDir, 'admin-token'), `${adminToken}\n`, { mode: 0o644 });
    process.env.AIWORKER_SANDBOX_TEST_MARKER = marker;
    hostServer = createServer((s) => s.end()).listen(0, '0.0.0.0');
    await new Promise((r) => hostServer.once('listening', r));
    hostPort = (hostServer.address() as { port: number }).port;

    await git(['init', '--quiet', '--bare', '--initial-branch=main', origin]);
    cpSync(FIXTURE, work, { recursive: true });
    const run = (...args: string[]) => git(args, { cwd: work });
    await run('init', '--quiet', '--initial-branch=main');
    await run('add', '--all');
    await run('commit', '--quiet', '-m', 'hostile app');
    await run('push', '--quiet', pathToFileURL(origin).href, 'main');
    commit = (await run('rev-parse', 'HEAD')).stdout.trim();
    runtime = createLocalRuntime({ previewsDir, readyTimeoutMs: 30_000, diskCheckEveryMs: 0 });

    // The victim shares the host's network for its install (the documented opt-in).
    await runtime.deploy(
      spec('task-victim', {
        installCommand: 'node install.js',
        startCommand: 'node server.js',
        healthPath: '/healthz',
        installNetwork: true,
        env: probeEnv(),
      }),
    );
    writeFileSync(path.join(previewsDir, 'task-victim', 'app', 'secret.txt'), 'victim secret\n');
    await runtime.deploy(
      spec('task-hostile', {
        installCommand: 'node install.js',
        startCommand: 'node server.js',
        healthPath: '/healthz',
        env: { ...probeEnv(), GREETING: 'hello' },
      }),
    );
  }, 120_000);

  afterAll(async () => {
    for (const p of await runtime.list()) await runtime.teardown(p.name);
    runtime.close();
    await new Promise((r) => hostServer.close(r));
    delete process.env.AIWORKER_SANDBOX_TEST_MARKER;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reaches the services it probes from the host, so their refusal below means something', async () => {
    const [temporalHost, temporalPort] = process.env.TEMPORAL_ADDRESS!.split(/:(?=\d+$)/);
    expect(await reachable('127.0.0.1', 3306)).toBe(true);
    expect(await reachable('127.0.0.1', 6379)).toBe(true);
    expect(await reachable(temporalHost!, Number(temporalPort))).toBe(true);
    expect(await reachable(hostIp, hostPort)).toBe(true);
    expect(readFileSync(path.join(dataDir, 'admin-token'), 'utf8')).toContain(adminToken);
  });

  it('keeps the data folder, other previews and other processes out of its sight', async () => {
    const report = await get('task-hostile', '/report');
    expect(report.cwd).toBe('/app');
    expect(report.adminToken.ok).toBe(false);
    expect(report.adminTokenRelative.ok).toBe(false);
    expect(report.otherCheckout.ok).toBe(false);
    expect(report.otherCheckoutRelative.ok).toBe(false);
    expect(report.dataDir).toBe(false);
    expect(JSON.stringify(report)).not.toContain(adminToken);
    expect(JSON.stringify(report)).not.toContain('victim secret');
    expect(report.root.sort()).toEqual(
      expect.not.arrayContaining(['root', 'work', 'home', 'var', 'sys', 'srv', 'mnt', 'opt']),
    );
    // Its own pid namespace: a handful of its own processes, not the jest process or the worker.
    expect(report.pids.length).toBeLessThan(10);
    expect(report.pids).toContain('1');
    expect(report.jestCmdline.ok && report.jestCmdline.text.includes('jest')).toBe(false);
    const seen = JSON.stringify(report.environs) + JSON.stringify(report.jestEnviron);
    expect(seen).not.toContain(marker);
    expect(seen).not.toContain(process.env.DATABASE_URL!);
    // Read-only system, writable checkout.
    expect([report.writeUsr.ok, report.writeEtc.ok, report.writeRoot.ok]).toEqual([
      false,
      false,
      false,
    ]);
    expect(report.writeApp).toEqual({ ok: true });
  });

  it('gives the app only the declared variables, PORT and a minimal runtime environment', async () => {
    const { env } = await get('task-hostile', '/report');
    const { port } = stateOf('task-hostile');
    // The shell that runs the start command exports its working folder; nothing else is added.
    const { PWD, ...rest } = env;
    expect([undefined, '/app']).toContain(PWD);
    expect(rest).toEqual({
      ...probeEnv(),
      GREETING: 'hello',
      PORT: String(port),
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/app',
      TMPDIR: '/tmp',
      LANG: 'C.UTF-8',
      NODE_OPTIONS: '--disable-wasm-trap-handler',
    });
    const install = await get('task-hostile', '/install');
    expect(install.env.PORT).toBeUndefined();
    expect(install.env.GREETING).toBe('hello');
    expect(JSON.stringify(install.env)).not.toContain(marker);
  });

  it('has no network but loopback: no host service, no other address, no name resolution', async () => {
    const report = await get('task-hostile', '/report');
    for (const probe of ['mariadb', 'redis', 'temporal', 'hostAddress', 'dns']) {
      expect([probe, report[probe].ok]).toEqual([probe, false]);
    }
    const install = await get('task-hostile', '/install');
    expect(install.redis.ok).toBe(false);
    expect(install.hostAddress.ok).toBe(false);
    // The opt-in: the victim's install shared the host's network.
    const opted = await get('task-victim', '/install');
    expect(opted.hostAddress.ok).toBe(true);
  });

  it('answers on 127.0.0.1 of the host only, not on its other addresses', async () => {
    const { port } = stateOf('task-hostile');
    expect(await reachable('127.0.0.1', port)).toBe(true);
    expect(await reachable(hostIp, port)).toBe(false);
  });

  it('runs each preview as a user of its own when the worker is root', async () => {
    const hostile = stateOf('task-hostile');
    const victim = stateOf('task-victim');
    const { uid, gid, groups } = await get('task-hostile', '/report');
    if (!asRoot) {
      expect(uid).toBe(process.getuid!());
      return;
    }
    expect(hostile.uid).toBeGreaterThanOrEqual(200_000);
    expect(victim.uid).toBeGreaterThanOrEqual(200_000);
    expect(hostile.uid).not.toBe(victim.uid);
    expect([uid, gid]).toEqual([hostile.uid, hostile.uid]);
    expect(groups.filter((g: number) => g !== gid)).toEqual([]);
    const uids = uidsOfGroup(hostile.pid);
    expect(uids.length).toBeGreaterThan(0);
    expect(new Set(uids)).toEqual(new Set([hostile.uid]));
    const install = await get('task-hostile', '/install');
    expect(install.uid).toBe(hostile.uid);
  });

  it('enforces the project limits: processes, file size, /tmp, and the checkout on disk', async () => {
    const info = await runtime.deploy(
      spec('task-limits', {
        startCommand: 'node server.js',
        healthPath: '/healthz',
        env: { ...probeEnv(), PROBE_FORKS: '100' },
        limits: {
          memoryMb: 1024,
          cpuSeconds: 30,
          processes: 64,
          fileSizeMb: 2,
          tmpMb: 1,
          diskMb: 16,
        },
      }),
    );
    const { limits } = await get('task-limits', '/report');
    const line = (name: string) =>
      (limits.text as string)
        .split('\n')
        .find((l) => l.startsWith(name))!
        .split(/\s{2,}/);
    expect(line('Max address space').slice(1, 3)).toEqual(['1073741824', '1073741824']);
    expect(line('Max cpu time').slice(1, 3)).toEqual(['30', '30']);
    expect(line('Max file size').slice(1, 3)).toEqual(['2097152', '2097152']);
    expect(line('Max core file size').slice(1, 3)).toEqual(['0', '0']);
    const tried = await get('task-limits', '/limits');
    expect(tried.bigFile).toEqual({ ok: false, error: 'EFBIG' });
    expect(tried.bigTmp).toEqual({ ok: false, error: 'ENOSPC' });
    if (asRoot) {
      expect(line('Max processes').slice(1, 3)).toEqual(['64', '64']);
      expect(tried.processes.started).toBeLessThan(64);
      expect(tried.processes.failed).toBe('EAGAIN');
    }

    // Many files below the size limit fill the checkout past its disk limit: the check stops it.
    expect(await get('task-limits', '/fill')).toEqual({ ok: true });
    const { pid, port } = stateOf('task-limits');
    expect(await runtime.checkDiskUsage()).toEqual(['task-limits']);
    expect(groupAlive(pid)).toBe(false);
    expect(await isListening(port)).toBe(false);
    const log = readFileSync(path.join(previewsDir, 'task-limits', 'preview.log'), 'utf8');
    expect(log).toMatch(/stopped: the checkout takes \d+ MiB, more than its disk limit/);
    expect(info.url).toBe(`http://localhost:${port}`);
    // The others are within their limits and keep running.
    expect(await runtime.checkDiskUsage()).toEqual([]);
    expect(await reachable('127.0.0.1', stateOf('task-hostile').port)).toBe(true);
  });

  it('redeploys over what the app left in its checkout: pipes where git reads files', async () => {
    const appDir = path.join(previewsDir, 'task-hostile', 'app');
    // The app died (so the next deploy checks out again) after leaving pipes behind.
    const { pid } = stateOf('task-hostile');
    process.kill(-pid, 'SIGKILL');
    while (groupAlive(pid)) await new Promise((r) => setTimeout(r, 20));
    mkdirSync(path.join(appDir, 'sub'), { recursive: true });
    execFileSync('mkfifo', [
      path.join(appDir, '.gitattributes'),
      path.join(appDir, 'sub', '.gitignore'),
    ]);
    await runtime.deploy(
      spec('task-hostile', {
        installCommand: 'node install.js',
        startCommand: 'node server.js',
        healthPath: '/healthz',
        env: { ...probeEnv(), GREETING: 'hello' },
      }),
    );
    expect(existsSync(path.join(appDir, '.gitattributes'))).toBe(false);
    expect(existsSync(path.join(appDir, 'sub', '.gitignore'))).toBe(false);
    expect(await reachable('127.0.0.1', stateOf('task-hostile').port)).toBe(true);
  }, 60_000);

  it('refuses a data folder that every sandbox could read', () => {
    expect(() => checkDataFolderHidden('/usr/src/app/.data')).toThrow(
      'the data folder /usr/src/app/.data is inside /usr, which every preview sandbox can read',
    );
    expect(() => checkDataFolderHidden('/lib/aiworker')).toThrow(/is inside \/lib,/);
    expect(() => checkDataFolderHidden(dataDir)).not.toThrow();
  });

  it('runs previews unsandboxed only when the operator says so, still with the declared variables only', async () => {
    expect(loadConfig({}).previews.sandbox).toEqual(DEFAULT_SANDBOX);
    expect(() => loadConfig({ AIWORKER_PREVIEW_SANDBOX: 'off' })).toThrow(
      /AIWORKER_PREVIEW_SANDBOX: expected bwrap \(the default\) or none \(unsafe\)/,
    );
    const unsafe = createLocalRuntime({
      previewsDir,
      readyTimeoutMs: 30_000,
      diskCheckEveryMs: 0,
      sandbox: { ...DEFAULT_SANDBOX, mode: 'none' },
    });
    await unsafe.deploy(
      spec('task-unsafe', {
        startCommand: 'node server.js',
        healthPath: '/healthz',
        env: probeEnv(),
      }),
    );
    const report = await get('task-unsafe', '/report');
    // What the sandbox is for: without it, the app reads the data folder.
    expect(report.cwd).toBe(path.join(previewsDir, 'task-unsafe', 'app'));
    expect(report.adminToken.ok).toBe(true);
    expect(JSON.stringify(report.env)).not.toContain(marker);
    expect(report.env.PORT).toBe(String(stateOf('task-unsafe').port));
    expect(report.env.DATABASE_URL).toBeUndefined();
    await unsafe.teardown('task-unsafe');
    unsafe.close();
  });
});
