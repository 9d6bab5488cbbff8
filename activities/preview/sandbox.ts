/**
 * Runs a local preview's install and app, which are the branch's code and so untrusted, in a
 * bubblewrap sandbox (README, "Security"). Inside, a preview has its own user, pid, ipc, uts,
 * cgroup and network namespaces; it sees read-only system folders, its checkout at /app (the
 * working folder), a small in-memory /tmp and /dev/shm, its own /proc and a minimal /dev: nothing
 * of the data folder, other previews or the worker. Its network holds loopback only; the host
 * reaches the app through a socket listening on 127.0.0.1:<port> of the host that the sandbox
 * inherits (sandbox-launcher.mjs relays it). Its environment is the project's `preview.env`,
 * `PORT` and a minimal PATH/HOME/TMPDIR/LANG (plus NODE_OPTIONS, see `runtimeEnv`). Resource
 * limits are set with prlimit(1).
 *
 * When the worker runs as root each preview runs as a user id of its own (sandbox-users.ts).
 * Otherwise it runs as the worker's user: the namespaces still isolate it, but RLIMIT_NPROC would
 * count every process of that user, so it is not set.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  lstatSync,
  openSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PreviewFailed } from './runtime';
import type { ProjectSandbox, SandboxLimits } from './sandbox-config';
import type { SandboxMode } from '../../platform/config';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const LAUNCHER = path.join(__dirname, 'sandbox-launcher.mjs');
/** What the trusted binaries (prlimit, bwrap) run with: nothing of the worker's environment. */
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
/** Top-level folders that are links into /usr on merged-/usr systems, or folders elsewhere. */
const TOP_LEVEL = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** What of /etc programs need: certificates, library and name-service settings, time zone. */
const SHARED_ETC = [
  '/etc/ssl/certs',
  '/etc/ssl/openssl.cnf',
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/nsswitch.conf',
  '/etc/localtime',
];
/** Name resolution, for an install that shares the host's network. */
const NETWORK_ETC = ['/etc/resolv.conf', '/etc/gai.conf', '/etc/host.conf'];
/**
 * V8 reserves several GiB of address space per WebAssembly memory (Node's own fetch uses one),
 * which RLIMIT_AS refuses; with this flag it checks bounds inline instead.
 */
const WASM_FLAG = '--disable-wasm-trap-handler';

/** One command to run in a preview's sandbox. */
export interface SandboxJob {
  kind: 'install' | 'app';
  command: string;
  /** The preview's own folder (private to the worker); the sandbox's setup files go here. */
  dir: string;
  /** The checkout: /app in the sandbox. */
  appDir: string;
  /** The preview's own user id, or null to run as the worker's user. */
  uid: number | null;
  project: ProjectSandbox;
  /** Where the output goes (opened for appending). */
  logPath: string;
  /**
   * Unsandboxed app: the port it is told to listen on. A sandboxed app's port is the one of the
   * socket handed to it (see `prepareSandboxed`).
   */
  port?: number;
}

/** Starts the prepared job; a sandboxed app is handed `listenFd` (listening on host loopback). */
export type SandboxStart = (listenFd?: number) => ChildProcess;

/** Where executable `name` is, looked up in PATH and then the system folders. */
function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...TOOL_ENV.PATH.split(':')];
  for (const dir of dirs.filter((d) => path.isAbsolute(d))) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** Where bwrap and prlimit are; throws PreviewFailed naming what to install. */
function tools(): { bwrap: string; prlimit: string } {
  const bwrap = findTool('bwrap');
  if (!bwrap) {
    throw new PreviewFailed(
      'previews run in a bubblewrap sandbox, and bwrap is not installed on this worker machine: ' +
        'install it (`apt-get install bubblewrap`), or set AIWORKER_PREVIEW_SANDBOX=none to run ' +
        "previews unsandboxed (unsafe: they then get the worker's user, files and network)",
    );
  }
  return { bwrap, prlimit: prlimitPath() };
}

function prlimitPath(): string {
  const prlimit = findTool('prlimit');
  if (!prlimit) {
    throw new PreviewFailed(
      'prlimit (util-linux) is not installed on this worker machine: `apt-get install util-linux`',
    );
  }
  return prlimit;
}

/**
 * Refuses to run previews when the data folder lies in a folder every sandbox sees (read-only)
 * — /usr, /bin, /lib..., or the Node.js installation — where the admin token and every
 * preview's checkout would be readable from inside.
 */
export function checkDataFolderHidden(dataDir: string): void {
  let real: string;
  try {
    real = realpathSync(dataDir);
  } catch {
    real = path.resolve(dataDir);
  }
  const shared = ['/usr', ...TOP_LEVEL, nodePrefix()].filter((d): d is string => d !== null);
  const inside = shared.find((d) => real === d || real.startsWith(`${d}/`));
  if (inside) {
    throw new PreviewFailed(
      `the data folder ${real} is inside ${inside}, which every preview sandbox can read: ` +
        'set AIWORKER_DATA_DIR to a folder outside /usr, /bin, /lib and the Node.js installation',
    );
  }
}

/** The Node.js installation, mounted read-only at the same path when it is not under /usr. */
function nodePrefix(): string | null {
  const prefix = path.dirname(path.dirname(process.execPath));
  return prefix === '/usr' || prefix.startsWith('/usr/') ? null : prefix;
}

const wasmFlagKnown = process.allowedNodeEnvironmentFlags.has(WASM_FLAG);

/**
 * What every command in a preview starts from. NODE_OPTIONS carries the WebAssembly flag (see
 * WASM_FLAG) ahead of whatever the project puts there.
 */
function runtimeEnv(job: SandboxJob, sandboxed: boolean): Record<string, string> {
  const prefix = nodePrefix();
  const env: Record<string, string> = {
    PATH: sandboxed
      ? [prefix && `${prefix}/bin`, '/usr/local/bin:/usr/bin:/bin'].filter(Boolean).join(':')
      : (process.env.PATH ?? TOOL_ENV.PATH),
    HOME: sandboxed ? '/app' : job.appDir,
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    ...job.project.env,
    ...(job.port === undefined ? {} : { PORT: String(job.port) }),
  };
  if (wasmFlagKnown) {
    env.NODE_OPTIONS = [WASM_FLAG, job.project.env.NODE_OPTIONS].filter(Boolean).join(' ');
  }
  return env;
}

/** prlimit(1) options for `limits`; the process count only when the user is the preview's own. */
function limitArgs(limits: SandboxLimits, ownUser: boolean): string[] {
  return [
    `--as=${limits.memoryMb * MIB}`,
    `--cpu=${limits.cpuSeconds}`,
    `--fsize=${limits.fileSizeMb * MIB}`,
    '--core=0',
    ...(ownUser ? [`--nproc=${limits.processes}`] : []),
  ];
}

/** Descriptors the sandbox is given, by number (see `prepareSandboxed`). */
const FD = { listen: 3, launcher: 4, launch: 5, passwd: 6, group: 7, hosts: 8 } as const;

/** The bubblewrap arguments for `job` (everything after `bwrap`). */
export function bwrapArgs(job: SandboxJob): string[] {
  const network = job.kind === 'install' && job.project.installNetwork;
  const args = ['--unshare-all', '--unshare-user', '--disable-userns'];
  if (network) args.push('--share-net');
  args.push('--hostname', 'preview', '--clearenv');
  // The launcher's own environment: fixed, so nothing a project declares runs before it has
  // closed what it inherited (LD_PRELOAD, NODE_OPTIONS). The command gets launch.json's.
  const launcherEnv = { PATH: '/usr/bin:/bin', HOME: '/app', LANG: 'C.UTF-8' };
  for (const [k, v] of Object.entries(launcherEnv)) args.push('--setenv', k, v);
  args.push('--ro-bind', '/usr', '/usr');
  for (const top of TOP_LEVEL) {
    const s = lstatSync(top, { throwIfNoEntry: false });
    if (s?.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else if (s?.isDirectory()) args.push('--ro-bind', top, top);
  }
  for (const file of [...SHARED_ETC, ...(network ? NETWORK_ETC : [])]) {
    args.push('--ro-bind-try', file, file);
  }
  const prefix = nodePrefix();
  if (prefix) args.push('--ro-bind', prefix, prefix);
  for (const [fd, dest] of [
    [FD.passwd, '/etc/passwd'],
    [FD.group, '/etc/group'],
    [FD.hosts, '/etc/hosts'],
    [FD.launcher, '/run/aiworker/launcher.mjs'],
    [FD.launch, '/run/aiworker/launch.json'],
  ] as const) {
    args.push('--perms', '0444', '--ro-bind-data', String(fd), dest);
  }
  const tmpfs = String(job.project.limits.tmpMb * MIB);
  args.push('--proc', '/proc', '--dev', '/dev');
  args.push('--size', tmpfs, '--tmpfs', '/dev/shm', '--size', tmpfs, '--tmpfs', '/tmp');
  args.push('--bind', job.appDir, '/app');
  // What is left writable: /app, /tmp and /dev/shm; the root and /dev are read-only.
  args.push('--remount-ro', '/dev', '--remount-ro', '/', '--chdir', '/app');
  args.push('--', process.execPath, '/run/aiworker/launcher.mjs');
  return args;
}

/** Writes the files the sandbox is set up from, in `<dir>/sandbox/`; returns their paths. */
async function setupFiles(
  job: SandboxJob,
): Promise<Record<'launch' | 'passwd' | 'group' | 'hosts', string>> {
  const folder = path.join(job.dir, 'sandbox');
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const uid = job.uid ?? process.getuid?.() ?? 0;
  const gid = job.uid ?? process.getgid?.() ?? 0;
  const files = {
    passwd: `preview:x:${uid}:${gid}:preview:/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `preview:x:${gid}:\nnogroup:x:65534:\n`,
    hosts: '127.0.0.1\tlocalhost preview\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    launch: JSON.stringify({
      command: job.command,
      env: runtimeEnv(job, true),
      relay: job.kind === 'app',
    }),
  };
  const paths = {} as Record<keyof typeof files, string>;
  for (const [name, text] of Object.entries(files) as [keyof typeof files, string][]) {
    paths[name] = path.join(folder, `${job.kind}-${name}`);
    await writeFile(paths[name], text, { mode: 0o600 });
  }
  return paths;
}

/**
 * Prepares `job` (tools found, setup files written) and returns what starts it, synchronously:
 * detached, in a process group of its own that outlives the worker, its output appended to its
 * log. Mode `none` runs it as a plain process of the worker's user.
 */
export async function prepareSandboxed(mode: SandboxMode, job: SandboxJob): Promise<SandboxStart> {
  const limits = limitArgs(job.project.limits, job.uid !== null);
  if (mode === 'none') {
    const prlimit = prlimitPath();
    return () =>
      withFiles([job.logPath], ([log]) =>
        spawn(prlimit, [...limits, '--', 'sh', '-c', job.command], {
          cwd: job.appDir,
          env: runtimeEnv(job, false),
          detached: true,
          stdio: ['ignore', log!, log!],
        }),
      );
  }
  const { bwrap, prlimit } = tools();
  const files = await setupFiles(job);
  const args = [...limits, '--', bwrap, ...bwrapArgs(job)];
  const ids = job.uid === null ? {} : { uid: job.uid, gid: job.uid };
  const inputs = [LAUNCHER, files.launch, files.passwd, files.group, files.hosts];
  return (listenFd) =>
    withFiles([job.logPath, ...inputs], ([log, ...fds]) =>
      // The working folder is set before the user changes, so the outer bwrap process shows the
      // checkout as its folder (what `ps` and /proc/<pid>/cwd tell an operator).
      spawn(prlimit, args, {
        cwd: job.appDir,
        env: TOOL_ENV,
        detached: true,
        // The numbers bwrapArgs refers to: FD.listen, then FD.launcher onwards.
        stdio: ['ignore', log!, log!, listenFd ?? 'ignore', ...fds],
        ...ids,
      }),
    );
}

/** Opens `files` (the first for appending, the rest for reading), starts, closes them here. */
function withFiles(files: string[], start: (fds: number[]) => ChildProcess): ChildProcess {
  const fds: number[] = [];
  try {
    files.forEach((file, i) => fds.push(openSync(file, i === 0 ? 'a' : 'r')));
    const child = start(fds);
    child.unref();
    return child;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

const checked = new Map<string, Promise<void>>();

/**
 * Checks once per user that a sandbox can start here (bwrap installed, user namespaces allowed,
 * /proc mountable), so a machine that cannot sandbox fails the deploy saying why instead of
 * failing every preview with a log line.
 */
export async function checkSandbox(mode: SandboxMode, uid: number | null): Promise<void> {
  if (mode === 'none') {
    prlimitPath();
    return;
  }
  const { bwrap } = tools();
  const key = `${bwrap}:${uid}`;
  let check = checked.get(key);
  if (!check) {
    check = run(
      bwrap,
      ['--unshare-all', '--unshare-user', '--disable-userns', '--ro-bind', '/usr', '/usr']
        .concat(
          TOP_LEVEL.filter((t) =>
            lstatSync(t, { throwIfNoEntry: false })?.isSymbolicLink(),
          ).flatMap((t) => ['--symlink', readlinkSync(t), t]),
        )
        .concat(['--proc', '/proc', '--dev', '/dev', '--', '/usr/bin/true']),
      { env: TOOL_ENV, timeout: 30_000, ...(uid === null ? {} : { uid, gid: uid }) },
    ).then(
      () => undefined,
      (err: { stderr?: string; message: string }) => {
        checked.delete(key);
        throw new PreviewFailed(
          `the preview sandbox cannot start on this machine: ${(err.stderr || err.message).trim()}. ` +
            'bubblewrap needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, ' +
            'user.max_user_namespaces > 0; in a container, a seccomp profile that allows them and a ' +
            '/proc that is not masked); AIWORKER_PREVIEW_SANDBOX=none runs previews unsandboxed (unsafe)',
        );
      },
    );
    checked.set(key, check);
  }
  await check;
}

/** Disk use of `dir` in MiB (what du counts: blocks in use, each hard-linked file once). */
export async function diskUsageMb(dir: string): Promise<number> {
  // du exits 1 when a file vanishes while it counts (an app can make that happen all the time),
  // yet still prints the total of what it saw: that total is the answer.
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      'du',
      ['-s', '-x', '-k', '--', dir],
      { env: TOOL_ENV, timeout: 120_000 },
      (err, out, errOut) => {
        if (/^\d+\t/.test(out)) resolve(out);
        else
          reject(new Error(`du ${dir}: ${String(errOut).trim() || (err?.message ?? 'no total')}`));
      },
    );
  });
  return Number(stdout.split('\t')[0]) / 1024;
}
