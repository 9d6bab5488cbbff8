/**
 * The default preview runtime: each preview is a checkout of one commit, started as a process on
 * a free port of this machine. Previews run detached in their own process group, so a restart of
 * the worker that started them leaves them running; `<previewsDir>/<name>/preview.json` is how a
 * later deploy, teardown or list finds them again.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import {
  appendFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { git, resolveCommit } from '../forge/git';
import { PreviewFailed } from './runtime';
import type { PreviewInfo, PreviewRuntime, PreviewSpec } from './runtime';

/** What the local runtime needs. */
export interface LocalRuntimeOptions {
  /** Folder holding one folder per preview. */
  previewsDir: string;
  /** Host name in preview URLs (default `localhost`). */
  host?: string;
  /** How long an app may take to answer after it starts (default 3 minutes). */
  readyTimeoutMs?: number;
  /** How long the install command may run (default 10 minutes). */
  installTimeoutMs?: number;
}

/** What `preview.json` holds. */
interface PreviewState extends PreviewInfo {
  branch: string;
  /** Leader of the preview's process group (its pgid is the same number). */
  pid: number;
  /** The leader's start time (/proc), so a recycled pid is never mistaken for the preview. */
  pidStartedAt: string | null;
  port: number;
  deployedAt: string;
}

/** A detached process group this runtime started: the app, or an install still running. */
type ProcessGroup = Pick<PreviewState, 'pid' | 'pidStartedAt'>;

/** Where a running install is recorded, so a worker that dies mid-install leaves it findable. */
const INSTALL_FILE = 'install.json';

const POLL_MS = 200;
const PROGRESS_EVERY_MS = 2_000;
const STOP_GRACE_MS = 5_000;
const GIT_TIMEOUT_MS = 300_000;
const LOG_TAIL_LINES = 20;
// The app is the branch's code: it gets what a shell needs, not the worker's secrets.
const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function appEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of PASSED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key];
  return { ...env, ...extra };
}

/** Fields 3 onwards of /proc/<pid>/stat (field 2, the name, may hold spaces and parentheses). */
function procStat(pid: number | string): string[] | null {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return line.slice(line.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function startTimeOf(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

function signal(target: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, sig);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether any process of group `pgid` is alive. Zombies do not count: an exited process whose
 * parent is gone may wait a long time to be reaped in a container, yet it runs nothing.
 */
function groupAlive(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return signal(-pgid, 0);
  }
  return pids.some((pid) => {
    const fields = procStat(pid);
    return fields !== null && fields[0] !== 'Z' && fields[2] === String(pgid);
  });
}

/** Whether the preview's processes still run (and are the ones preview.json recorded). */
function running(state: ProcessGroup): boolean {
  const leader = procStat(state.pid);
  if (leader && leader[0] !== 'Z') {
    // A live process under a recycled pid is someone else's: never ours to reuse or signal.
    return state.pidStartedAt === null || leader[19] === state.pidStartedAt;
  }
  // The leader is gone but its group may live on; Linux never hands out a pid that is still
  // some group's id, so those members are the preview's.
  return groupAlive(state.pid);
}

/** SIGTERM to the whole group, then SIGKILL to whatever is left after a grace period. */
async function stopGroup(state: ProcessGroup): Promise<void> {
  if (!running(state)) return;
  signal(-state.pid, 'SIGTERM');
  for (const [sig, wait] of [
    ['SIGKILL', STOP_GRACE_MS],
    [null, 2_000],
  ] as const) {
    const deadline = Date.now() + wait;
    while (Date.now() < deadline && groupAlive(state.pid)) await sleep(50);
    if (!groupAlive(state.pid)) return;
    if (sig) signal(-state.pid, sig);
  }
}

async function answers(port: number, healthPath: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: healthPath, timeout: 2_000 }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** Listens on `port` (0: any) on every interface, as an app would, and gives it back. */
async function bindable(port: number): Promise<number | null> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

async function logTail(logPath: string): Promise<string> {
  try {
    const file = await open(logPath, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, 16_384);
      const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length);
      const lines = buffer.toString('utf8').trimEnd().split('\n');
      return lines.slice(-LOG_TAIL_LINES).join('\n') || '(empty log)';
    } finally {
      await file.close();
    }
  } catch {
    return '(no log)';
  }
}

async function readState(dir: string): Promise<PreviewState | null> {
  try {
    const s = JSON.parse(await readFile(path.join(dir, 'preview.json'), 'utf8')) as PreviewState;
    const ok =
      Number.isInteger(s.pid) &&
      s.pid > 1 &&
      Number.isInteger(s.port) &&
      [s.name, s.projectId, s.url, s.commit, s.createdAt].every((v) => typeof v === 'string');
    return ok ? s : null;
  } catch {
    return null;
  }
}

/** Stops an install that a worker which died left running, before the checkout it works in changes. */
async function stopLeftoverInstall(dir: string): Promise<void> {
  const file = path.join(dir, INSTALL_FILE);
  const raw = await readFile(file, 'utf8').catch(() => null);
  if (raw === null) return;
  try {
    await stopGroup(JSON.parse(raw) as ProcessGroup);
  } catch {
    // An unreadable record names no process we could stop.
  }
  await rm(file, { force: true });
}

async function writeState(dir: string, state: PreviewState): Promise<void> {
  // Write then rename: a reader never sees half a file.
  const tmp = path.join(dir, 'preview.json.tmp');
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, path.join(dir, 'preview.json'));
}

function present(s: PreviewState): PreviewInfo {
  return {
    name: s.name,
    projectId: s.projectId,
    taskId: s.taskId,
    url: s.url,
    commit: s.commit,
    createdAt: s.createdAt,
  };
}

/** Starts `command` through `sh -c`, detached in a group of its own, output to `logPath`. */
function startDetached(command: string, cwd: string, logPath: string, env: NodeJS.ProcessEnv) {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn('sh', ['-c', command], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Resolves once the child has exited (or could not start), with how it ended. */
function exited(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (code, sig) => resolve(sig ? `killed by ${sig}` : `exit code ${code}`));
  });
}

/** Creates the local runtime (see the module comment). */
export function createLocalRuntime(options: LocalRuntimeOptions): PreviewRuntime {
  const { previewsDir } = options;
  const host = options.host ?? 'localhost';
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const installTimeoutMs = options.installTimeoutMs ?? 600_000;
  // Deploys and teardowns of one preview run one at a time in this process.
  const queues = new Map<string, Promise<unknown>>();

  function serialized<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const next = (queues.get(name) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => undefined);
    queues.set(name, settled);
    void settled.then(() => queues.get(name) === settled && queues.delete(name));
    return next;
  }

  function previewDir(name: string): string {
    // The name becomes a folder name: nothing that could climb out of previewsDir.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new PreviewFailed(`"${name}" is not a valid preview name`);
    }
    return path.join(previewsDir, name);
  }

  async function checkout(spec: PreviewSpec, appDir: string): Promise<void> {
    if (!/^[0-9a-f]{7,64}$/.test(spec.commit)) {
      throw new PreviewFailed(`"${spec.commit}" is not a commit id`);
    }
    const opts = { cwd: appDir, timeoutMs: GIT_TIMEOUT_MS, env: spec.gitEnv };
    if (!(await stat(path.join(appDir, '.git')).catch(() => null))) {
      await rm(appDir, { recursive: true, force: true });
      await git(['clone', '--quiet', '--no-checkout', spec.cloneUrl, appDir], {
        timeoutMs: GIT_TIMEOUT_MS,
        env: spec.gitEnv,
      });
    } else {
      await git(['remote', 'set-url', 'origin', spec.cloneUrl], opts);
    }
    if (!(await resolveCommit(appDir, spec.commit))) {
      await git(
        ['fetch', '--quiet', '--force', 'origin', '+refs/heads/*:refs/remotes/origin/*'],
        opts,
      );
    }
    if (!(await resolveCommit(appDir, spec.commit))) {
      throw new PreviewFailed(`commit ${spec.commit} is not in the repository of ${spec.branch}`);
    }
    await git(['checkout', '--quiet', '--force', '--detach', spec.commit], opts);
    // Files the previous commit left behind go; ignored ones (installed dependencies) stay.
    await git(['clean', '--quiet', '--force', '-d'], opts);
  }

  async function install(
    spec: PreviewSpec,
    appDir: string,
    logPath: string,
    progress: (d: string) => void,
  ) {
    const command = spec.config.installCommand;
    if (!command) return;
    await appendFile(logPath, `$ ${command}\n`);
    const child = startDetached(command, appDir, logPath, appEnv());
    const done = exited(child);
    const installFile = path.join(path.dirname(appDir), INSTALL_FILE);
    if (child.pid) {
      const group: ProcessGroup = { pid: child.pid, pidStartedAt: startTimeOf(child.pid) };
      await writeFile(installFile, JSON.stringify(group));
      void done.then(() => rm(installFile, { force: true }));
    }
    const deadline = Date.now() + installTimeoutMs;
    let outcome: string | null = null;
    void done.then((o) => (outcome = o));
    while (outcome === null && Date.now() < deadline) {
      progress(`installing: ${command}`);
      await Promise.race([done, sleep(PROGRESS_EVERY_MS)]);
    }
    if (outcome === null) {
      if (child.pid) signal(-child.pid, 'SIGKILL');
      throw new PreviewFailed(
        `preview ${spec.name}: "${command}" did not finish within ${installTimeoutMs / 1000}s; ` +
          `last lines of its log:\n${await logTail(logPath)}`,
      );
    }
    if (outcome !== 'exit code 0') {
      throw new PreviewFailed(
        `preview ${spec.name}: "${command}" failed (${String(outcome)}); ` +
          `last lines of its log:\n${await logTail(logPath)}`,
      );
    }
  }

  /** Waits until the app answers; stops it and throws PreviewFailed if it exits or never does. */
  async function waitReady(
    state: PreviewState,
    healthPath: string,
    leaderExit: Promise<string>,
    logPath: string,
    progress: (d: string) => void,
  ): Promise<void> {
    let leaderOutcome: string | null = null;
    void leaderExit.then((o) => (leaderOutcome = o));
    const deadline = Date.now() + readyTimeoutMs;
    let lastProgress = 0;
    while (Date.now() < deadline) {
      if (await answers(state.port, healthPath)) return;
      // A start command that exits having left a server behind is fine; a whole group gone is not.
      if (leaderOutcome !== null && !groupAlive(state.pid)) {
        throw new PreviewFailed(
          `preview ${state.name}: the app stopped (${String(leaderOutcome)}) before answering on ` +
            `${healthPath}; last lines of its log:\n${await logTail(logPath)}`,
        );
      }
      if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        progress(`waiting for ${healthPath} to answer on port ${state.port}`);
        lastProgress = Date.now();
      }
      await sleep(POLL_MS);
    }
    throw new PreviewFailed(
      `preview ${state.name}: no answer on ${healthPath} within ${readyTimeoutMs / 1000}s; ` +
        `last lines of its log:\n${await logTail(logPath)}`,
    );
  }

  async function deploy(spec: PreviewSpec, progress: (d: string) => void): Promise<PreviewInfo> {
    const dir = previewDir(spec.name);
    const healthPath = spec.config.healthPath || '/';
    const startCommand = spec.config.startCommand;
    if (!startCommand) {
      throw new PreviewFailed(`project ${spec.projectId} has no start command for previews`);
    }
    const current = await readState(dir);
    if (
      current?.commit === spec.commit &&
      running(current) &&
      (await answers(current.port, healthPath))
    ) {
      return present(current);
    }
    if (current) await stopGroup(current);
    await stopLeftoverInstall(dir);
    await rm(path.join(dir, 'preview.json'), { force: true });
    await mkdir(dir, { recursive: true });
    const logPath = path.join(dir, 'preview.log');
    const appDir = path.join(dir, 'app');
    await writeFile(logPath, '');

    progress(`checking out ${spec.commit.slice(0, 12)}`);
    await checkout(spec, appDir);
    await install(spec, appDir, logPath, progress);

    const port = (current && (await bindable(current.port))) || (await bindable(0));
    if (!port) throw new PreviewFailed(`preview ${spec.name}: no free port on this machine`);
    progress(`starting on port ${port}: ${startCommand}`);
    await appendFile(logPath, `$ ${startCommand}  (PORT=${port})\n`);
    const child = startDetached(startCommand, appDir, logPath, appEnv({ PORT: String(port) }));
    const leaderExit = exited(child);
    if (!child.pid) throw new PreviewFailed(`preview ${spec.name}: ${await leaderExit}`);
    const now = new Date().toISOString();
    const state: PreviewState = {
      name: spec.name,
      projectId: spec.projectId,
      taskId: spec.taskId,
      branch: spec.branch,
      commit: spec.commit,
      url: `http://${host}:${port}`,
      createdAt: current?.createdAt ?? now,
      deployedAt: now,
      pid: child.pid,
      pidStartedAt: startTimeOf(child.pid),
      port,
    };
    // Recorded before waiting, so a worker that dies meanwhile leaves a process we can find.
    await writeState(dir, state);
    try {
      await waitReady(state, healthPath, leaderExit, logPath, progress);
    } catch (err) {
      await stopGroup(state);
      await rm(path.join(dir, 'preview.json'), { force: true });
      throw err;
    }
    return present(state);
  }

  return {
    kind: 'local',

    async deploy(spec, progress = () => undefined) {
      return await serialized(spec.name, () => deploy(spec, progress));
    },

    async teardown(name) {
      const dir = previewDir(name);
      return await serialized(name, async () => {
        if (!(await stat(dir).catch(() => null))) return false;
        const state = await readState(dir);
        if (state) await stopGroup(state);
        await stopLeftoverInstall(dir);
        await rm(dir, { recursive: true, force: true });
        return true;
      });
    },

    async list() {
      const names = await readdir(previewsDir).catch(() => [] as string[]);
      const states = await Promise.all(names.map((n) => readState(path.join(previewsDir, n))));
      return states.filter((s): s is PreviewState => s !== null).map(present);
    },
  };
}
