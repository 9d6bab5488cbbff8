/**
 * The default preview runtime: each preview is a checkout of one commit, installed and started
 * in a sandbox of its own (sandbox.ts) and served on a port of this machine's loopback. Previews
 * run detached in their own process group, so a restart of the worker that started them leaves
 * them running; `<previewsDir>/<name>/preview.json` is how a later deploy, teardown or list finds
 * them again. The preview's folder holds that file, its log, the repository (`git/`, never seen by
 * the branch's code) and the checkout (`app/`, the only part the sandbox sees).
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { appendFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkout } from './preview-checkout';
import { answers, bindable, descriptorOf, listenLoopback, portOf } from './preview-port';
import {
  INSTALL_FILE,
  logTail,
  present,
  readState,
  stopLeftoverInstall,
  claimDeploy,
} from './preview-state';
import type { PreviewState } from './preview-state';
import { groupAlive, running, signal, startTimeOf, stopGroup } from './process-groups';
import type { ProcessGroup } from './process-groups';
import { PreviewFailed } from './runtime';
import type { PreviewInfo, PreviewRuntime, PreviewSpec } from './runtime';
import { checkDataFolderHidden, checkSandbox, diskUsageMb, prepareSandboxed } from './sandbox';
import { DEFAULT_SANDBOX, projectSandbox } from './sandbox-config';
import type { ProjectSandbox } from './sandbox-config';
import type { SandboxSettings } from '../../platform/config';
import {
  checkRangeIsFree,
  checkReachable,
  claimUid,
  releaseUid,
  workerIsRoot,
} from './sandbox-users';

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
  /** How previews are isolated, and the user ids they get (default: sandboxed, ids from 200000). */
  sandbox?: SandboxSettings;
  /** How often running previews' checkouts are measured against their disk limit (default 60 s; 0: never). */
  diskCheckEveryMs?: number;
}

/** The local runtime, with the disk check its timer runs also callable directly. */
export interface LocalPreviewRuntime extends PreviewRuntime {
  /** Stops every running preview whose checkout is over its disk limit; resolves with their names. */
  checkDiskUsage(): Promise<string[]>;
  /** Stops the disk check's timer. */
  close(): void;
}

const POLL_MS = 200;
const PROGRESS_EVERY_MS = 2_000;
const INSTALL_DISK_CHECK_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The failure of a deploy attempt that a later attempt on the same preview overtook. */
function superseded(name: string): PreviewFailed {
  return new PreviewFailed(
    `preview ${name}: a later deploy of it started while this one ran; that one carries on`,
  );
}

/** Resolves once the child has exited (or could not start), with how it ended. */
function exited(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (code, sig) => resolve(sig ? `killed by ${sig}` : `exit code ${code}`));
  });
}

/** Creates the local runtime (see the module comment). */
export function createLocalRuntime(options: LocalRuntimeOptions): LocalPreviewRuntime {
  const { previewsDir } = options;
  const host = options.host ?? 'localhost';
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const installTimeoutMs = options.installTimeoutMs ?? 600_000;
  const sandbox = options.sandbox ?? DEFAULT_SANDBOX;
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

  /** The user the preview runs as: its own when sandboxed by a root worker, else the worker's. */
  async function userOf(name: string, appDir: string): Promise<number | null> {
    if (sandbox.mode === 'none' || !workerIsRoot()) return null;
    await checkRangeIsFree(sandbox);
    const uid = await claimUid(previewsDir, name, sandbox);
    await checkReachable(appDir, uid);
    return uid;
  }

  async function install(
    spec: PreviewSpec,
    dir: string,
    uid: number | null,
    project: ProjectSandbox,
    logPath: string,
    progress: (d: string) => void,
  ) {
    const command = spec.config.installCommand;
    if (!command) return;
    const appDir = path.join(dir, 'app');
    await appendFile(logPath, `$ ${command}\n`);
    const job = { kind: 'install' as const, command, dir, appDir, uid, project, logPath };
    const child = (await prepareSandboxed(sandbox.mode, job))();
    const done = exited(child);
    const installFile = path.join(dir, INSTALL_FILE);
    if (child.pid) {
      const group: ProcessGroup = { pid: child.pid, pidStartedAt: startTimeOf(child.pid) };
      await writeFile(installFile, JSON.stringify(group));
      void done.then(() => rm(installFile, { force: true }));
    }
    const deadline = Date.now() + installTimeoutMs;
    let outcome: string | null = null;
    void done.then((o) => (outcome = o));
    let diskCheck = Date.now() + INSTALL_DISK_CHECK_MS;
    try {
      while (outcome === null && Date.now() < deadline) {
        progress(`installing: ${command}`);
        await Promise.race([done, sleep(PROGRESS_EVERY_MS)]);
        if (outcome === null && Date.now() >= diskCheck) {
          diskCheck = Date.now() + INSTALL_DISK_CHECK_MS;
          if ((await diskUsageMb(appDir)) > project.limits.diskMb) {
            throw new PreviewFailed(
              `preview ${spec.name}: "${command}" filled the checkout past its disk limit ` +
                `(preview.limits.diskMb, ${project.limits.diskMb} MiB) and was stopped`,
            );
          }
        }
      }
    } finally {
      // However the wait ends (its time is up, the disk limit, a failed measurement, the
      // activity cancelled), an install still running is stopped with it.
      if (outcome === null && child.pid) signal(-child.pid, 'SIGKILL');
    }
    if (outcome === null) {
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

  /** Starts the app on the port of the previous deploy when it is free, else on any free one. */
  async function startApp(
    spec: PreviewSpec,
    dir: string,
    uid: number | null,
    project: ProjectSandbox,
    logPath: string,
    previousPort: number | undefined,
  ): Promise<{ child: ChildProcess; port: number }> {
    const command = spec.config.startCommand!;
    const job = {
      kind: 'app' as const,
      command,
      dir,
      appDir: path.join(dir, 'app'),
      uid,
      project,
      logPath,
    };
    const announce = (port: number) => appendFileSync(logPath, `$ ${command}  (PORT=${port})\n`);
    if (sandbox.mode === 'none') {
      const port = (previousPort && (await bindable(previousPort))) || (await bindable(0));
      if (!port) throw new PreviewFailed(`preview ${spec.name}: no free port on this machine`);
      const start = await prepareSandboxed('none', { ...job, port });
      announce(port);
      return { child: start(), port };
    }
    const start = await prepareSandboxed('bwrap', job);
    // The host end of the preview's port: bound here, on loopback only, and handed over to the
    // sandbox, which keeps it open as long as it runs. Nothing between the bind and the hand-over
    // returns to the event loop, so this process never accepts a connection on it.
    const server =
      (previousPort && (await listenLoopback(previousPort))) || (await listenLoopback(0));
    if (!server) throw new PreviewFailed(`preview ${spec.name}: no free port on this machine`);
    try {
      const port = portOf(server);
      announce(port);
      return { child: start(descriptorOf(server)), port };
    } finally {
      server.close();
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
    if (!spec.config.startCommand) {
      throw new PreviewFailed(`project ${spec.projectId} has no start command for previews`);
    }
    const project = projectSandbox(spec.config);
    const attempt = claimDeploy(dir);
    /** Gives up once a later attempt on this preview has started: that one carries on. */
    const stillLatest = () => {
      if (!attempt.isLatest()) throw superseded(spec.name);
    };
    const current = await readState(dir);
    if (
      current?.commit === spec.commit &&
      (current.sandbox ?? 'none') === sandbox.mode &&
      running(current) &&
      (await answers(current.port, healthPath))
    ) {
      return present(current);
    }
    if (current) await stopGroup(current);
    await stopLeftoverInstall(dir);
    await rm(path.join(dir, 'preview.json'), { force: true });
    stillLatest();
    const logPath = path.join(dir, 'preview.log');
    await writeFile(logPath, '', { mode: 0o600 });
    const uid = await userOf(spec.name, path.join(dir, 'app'));
    if (sandbox.mode === 'bwrap') checkDataFolderHidden(path.dirname(previewsDir));
    await checkSandbox(sandbox.mode, uid);

    progress(`checking out ${spec.commit.slice(0, 12)}`);
    stillLatest();
    await checkout(spec, dir, uid);
    stillLatest();
    await install(spec, dir, uid, project, logPath, progress);
    stillLatest();
    const used = await diskUsageMb(path.join(dir, 'app'));
    if (used > project.limits.diskMb) {
      throw new PreviewFailed(
        `preview ${spec.name}: the checkout takes ${Math.ceil(used)} MiB after the install, more ` +
          `than its disk limit (preview.limits.diskMb, ${project.limits.diskMb} MiB)`,
      );
    }

    const { child, port } = await startApp(spec, dir, uid, project, logPath, current?.port);
    // Nothing may throw between the start and the record below (a progress report throws once
    // the activity is cancelled): an app no record names would run on, unseen.
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
      sandbox: sandbox.mode,
      uid,
      diskMb: project.limits.diskMb,
    };
    // Recorded before waiting, so a worker that dies meanwhile leaves a process we can find;
    // an attempt overtaken by a later one stops its app instead.
    if (!attempt.recordIfLatest(state)) {
      await stopGroup(state);
      throw superseded(spec.name);
    }
    try {
      progress(`starting on port ${port}: ${spec.config.startCommand}`);
      await waitReady(state, healthPath, leaderExit, logPath, progress);
    } catch (err) {
      await stopGroup(state);
      attempt.forget(state);
      throw err;
    }
    return present(state);
  }

  async function list(): Promise<PreviewState[]> {
    const names = await readdir(previewsDir).catch(() => [] as string[]);
    const states = await Promise.all(names.map((n) => readState(path.join(previewsDir, n))));
    return states.filter((s): s is PreviewState => s !== null);
  }

  async function checkDiskUsage(): Promise<string[]> {
    const stopped: string[] = [];
    for (const seen of await list()) {
      if (!seen.diskMb || !running(seen)) continue;
      const dir = previewDir(seen.name);
      await serialized(seen.name, async () => {
        const state = await readState(dir);
        if (!state?.diskMb || state.pid !== seen.pid || !running(state)) return;
        const used = await diskUsageMb(path.join(dir, 'app')).catch(() => 0);
        if (used <= state.diskMb) return;
        await appendFile(
          path.join(dir, 'preview.log'),
          `aiworker: stopped: the checkout takes ${Math.ceil(used)} MiB, more than its disk limit ` +
            `(preview.limits.diskMb, ${state.diskMb} MiB)\n`,
        );
        await stopGroup(state);
        stopped.push(state.name);
      });
    }
    return stopped;
  }

  const everyMs = options.diskCheckEveryMs ?? 60_000;
  const timer =
    everyMs > 0 ? setInterval(() => void checkDiskUsage().catch(() => undefined), everyMs) : null;
  timer?.unref();

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
        await releaseUid(previewsDir, name);
        return true;
      });
    },

    async list() {
      return (await list()).map(present);
    },

    checkDiskUsage,

    close() {
      if (timer) clearInterval(timer);
    },
  };
}
