/**
 * A local project's repository served by `git http-backend`, git's own smart-HTTP CGI program:
 * the gateway gives it the request as CGI variables and the body on stdin, and relays its CGI
 * answer (headers, `Status:`, then the body). Receive-pack is enabled for this one process
 * through `GIT_CONFIG_*` variables, never in the repository's config, and the repository is
 * chosen from the project's id (checked), never from the request's path.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { BackendAnswer, BackendRequest } from './backend';
import { RELAYED_HEADERS } from './backend';
import { GitHttpError, repositoryNotFound } from './errors';

/** CGI headers longer than this are not what http-backend writes. */
const MAX_CGI_HEADER_BYTES = 64 * 1024;

/** The same rule the local forge applies to the folder names of repositories. */
const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Where a local project's bare repository is (`activities/forge/local.ts` puts it there). */
export function localRepositoryPath(reposDir: string, projectId: string): string {
  if (!PROJECT_ID.test(projectId)) throw repositoryNotFound();
  return path.join(reposDir, `${projectId}.git`);
}

/** The environment of git processes minus anything that could point them elsewhere. */
function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_')));
}

/** Splits http-backend's CGI header block into a status and the headers to relay. */
function parseCgiHeaders(block: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') status = Number.parseInt(value, 10) || 500;
    else if (RELAYED_HEADERS.includes(name)) headers[name] = value;
  }
  return { status, headers };
}

/** Runs `git http-backend` for one request on a local project's repository. */
export async function openLocal(
  repo: { reposDir: string; projectId: string; bodyLimitBytes: number },
  request: BackendRequest,
): Promise<BackendAnswer> {
  const dir = localRepositoryPath(repo.reposDir, repo.projectId);
  if (!(await stat(path.join(dir, 'HEAD')).catch(() => null))) throw repositoryNotFound();
  // The body may have failed while the repository was looked up (over the limit, a broken gzip
  // stream: decompression runs beside the lookup), before anyone listened for its error. The
  // stream keeps it; piping such a body would leave http-backend waiting for input for good.
  if (request.body?.errored) throw request.body.errored;
  const receive = request.service === 'git-receive-pack';
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    GIT_PROJECT_ROOT: path.resolve(repo.reposDir),
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${repo.projectId}.git/${request.action}`,
    REQUEST_METHOD: request.method,
    QUERY_STRING: request.action === 'info/refs' ? `service=${request.service}` : '',
    CONTENT_TYPE: request.contentType ?? '',
    REMOTE_USER: request.remoteUser,
    REMOTE_ADDR: request.remoteAddr,
    // The gateway has counted the body already; http-backend's own buffer must not be smaller.
    GIT_HTTP_MAX_REQUEST_BUFFER: String(repo.bodyLimitBytes),
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: receive ? 'true' : 'false',
    // Malformed objects (trees, .gitmodules) never reach the repository people merge from.
    GIT_CONFIG_KEY_1: 'receive.fsckObjects',
    GIT_CONFIG_VALUE_1: 'true',
    ...(request.gitProtocol ? { GIT_PROTOCOL: request.gitProtocol } : {}),
  };
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString('utf8');
  });
  const kill = () => child.kill('SIGKILL');
  request.signal.addEventListener('abort', kill, { once: true });
  child.on('close', () => request.signal.removeEventListener('abort', kill));

  return await new Promise<BackendAnswer>((resolve, reject) => {
    let answer: PassThrough | null = null;
    const fail = (err: Error) => {
      kill();
      if (answer) answer.destroy(err);
      else reject(err);
    };
    // The library's words (`spawn git ENOENT`) go to the server log, not to the agent.
    child.on('error', (err) =>
      fail(new GitHttpError(503, 'git is not available on this server', {}, { cause: err })),
    );
    child.stdin.on('error', () => undefined); // http-backend may stop reading early; it answers
    if (request.body) {
      request.body.on('error', fail);
      request.body.pipe(child.stdin);
    } else {
      child.stdin.end();
    }

    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_CGI_HEADER_BYTES) fail(new Error('git http-backend: no CGI headers'));
        return;
      }
      child.stdout.off('data', onData);
      const { status, headers } = parseCgiHeaders(head.subarray(0, end).toString('latin1'));
      answer = new PassThrough();
      answer.write(head.subarray(end + 4));
      child.stdout.pipe(answer);
      resolve({ status, headers, body: answer });
    };
    child.stdout.on('data', onData);
    child.on('close', (code) => {
      if (!answer)
        fail(new Error(`git http-backend exited (${code}) without an answer: ${stderr}`));
    });
  });
}
