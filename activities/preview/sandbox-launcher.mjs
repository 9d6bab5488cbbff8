// The first process inside a local preview's sandbox (activities/preview/sandbox.ts starts it
// through bubblewrap, read-only at /run/aiworker/launcher.mjs). Before any of the branch's code
// runs it closes every descriptor the sandbox inherited by accident (one open on a host folder
// would lead out of the sandbox). Then it runs the project's command through /bin/sh with the
// environment of /run/aiworker/launch.json, and, for the app, relays the preview's host port:
// descriptor 3 is a socket listening on 127.0.0.1:<port> of the host, and each connection to it
// goes on to the app on 127.0.0.1:<port> of the sandbox's own network, which has nothing else;
// the app gets that port as PORT. It ends with the command's status once no other process of the
// sandbox is left.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { setTimeout } from 'node:timers';

const LISTEN_FD = 3;
const O_CLOEXEC = 0o2000000;
const launch = JSON.parse(fs.readFileSync('/run/aiworker/launch.json', 'utf8'));
const relaying = launch.relay === true;

/**
 * Closes inherited descriptors above `keep`. Node.js opens its own with close-on-exec, so a
 * descriptor without the flag came from outside.
 */
function closeInherited(keep) {
  for (const entry of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(entry);
    if (fd <= keep) continue;
    let flags;
    try {
      const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      flags = parseInt(/^flags:\s+([0-7]+)/m.exec(info)[1], 8);
    } catch {
      continue;
    }
    if ((flags & O_CLOEXEC) === 0) fs.closeSync(fd);
  }
}

/** Connects to the app, on IPv4 loopback or, when nothing listens there, on IPv6 loopback. */
function connectApp(port, hosts = ['127.0.0.1', '::1']) {
  const socket = net.connect({ host: hosts[0], port });
  return { socket, fallback: hosts.length > 1 ? () => connectApp(port, hosts.slice(1)) : null };
}

/** Relays descriptor 3 to the app; calls `ready` with the port once it listens. */
function relay(ready) {
  let port = 0;
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    const attach = ({ socket, fallback }) => {
      socket.once('connect', () => {
        socket.on('error', () => client.destroy());
        client.on('error', () => socket.destroy());
        client.pipe(socket).pipe(client);
      });
      socket.once('error', (err) => {
        if (err.code === 'ECONNREFUSED' && fallback && !client.destroyed) attach(fallback());
        else client.destroy();
      });
    };
    attach(connectApp(port));
  });
  server.on('error', (err) => {
    process.stderr.write(`aiworker relay: ${err.message}\n`);
    process.exit(70);
  });
  server.listen({ fd: LISTEN_FD }, () => {
    port = server.address().port;
    ready(port);
  });
}

/** Whether a process of the sandbox other than its init (1) and this one still runs. */
function othersRunning() {
  return fs.readdirSync('/proc').some((entry) => {
    if (!/^\d+$/.test(entry) || entry === '1' || Number(entry) === process.pid) return false;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  });
}

function finish(status) {
  // A start command may leave its server running in the background; the app lasts as long as it.
  if (relaying && othersRunning()) {
    setTimeout(() => finish(status), 500);
    return;
  }
  process.exit(status);
}

closeInherited(relaying ? LISTEN_FD : 2);
// The whole group is signalled on stop; the command ends the way it chooses and this follows.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => undefined);

function start(env) {
  const child = spawn('/bin/sh', ['-c', launch.command], { env, stdio: 'inherit' });
  child.once('error', (err) => {
    process.stderr.write(`aiworker: cannot run /bin/sh: ${err.message}\n`);
    process.exit(127);
  });
  child.once('exit', (code, sig) => finish(code ?? 128 + (os.constants.signals[sig] ?? 0)));
}

if (relaying) relay((port) => start({ ...launch.env, PORT: String(port) }));
else start(launch.env);
