/**
 * A Gitea project's repository, reached by relaying the authorized request to the repository's
 * clone URL on Gitea with aiworker's service account. The agent's own `Authorization` header is
 * never sent on (the request is rebuilt from what the gateway checked), and the service
 * account's token never reaches the agent: Gitea's answer is relayed without its credentials
 * and without its authentication challenges.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { BackendAnswer, BackendRequest } from './backend';
import { RELAYED_HEADERS } from './backend';
import { GitHttpError, repositoryNotFound } from './errors';

/** The Gitea account aiworker acts as (`GITEA_USERNAME`, `GITEA_TOKEN`). */
export interface GiteaServiceAccount {
  username: string;
  token: string;
}

/** The URL of `action` under a repository's clone URL. */
function targetUrl(cloneUrl: string, request: BackendRequest): URL {
  const url = new URL(cloneUrl);
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${request.action}`;
  if (request.action === 'info/refs') url.searchParams.set('service', request.service);
  return url;
}

/** Relays one request to the project's repository on Gitea. */
export async function openGitea(
  repo: { cloneUrl: string; account: GiteaServiceAccount },
  request: BackendRequest,
): Promise<BackendAnswer> {
  const basic = Buffer.from(`${repo.account.username}:${repo.account.token}`).toString('base64');
  const headers: Record<string, string> = {
    authorization: `Basic ${basic}`,
    'user-agent': 'aiworker-git-gateway',
    accept: '*/*',
  };
  if (request.contentType) headers['content-type'] = request.contentType;
  if (request.gitProtocol) headers['git-protocol'] = request.gitProtocol;
  const failed: { body?: Error } = {};
  const upload = new AbortController();
  const onAbort = () => upload.abort();
  request.signal.addEventListener('abort', onAbort, { once: true });
  request.body?.on('error', (err) => {
    failed.body = err;
    upload.abort();
  });
  let res: Response;
  try {
    res = await fetch(targetUrl(repo.cloneUrl, request), {
      method: request.method,
      headers,
      body: request.body ? Readable.toWeb(request.body) : null,
      // Node's fetch streams a request body only when told it is half duplex.
      ...(request.body ? { duplex: 'half' } : {}),
      redirect: 'manual',
      signal: upload.signal,
    });
  } catch (err) {
    if (failed.body) throw failed.body;
    // The library's words (`fetch failed`) go to the server log, not to the agent.
    throw new GitHttpError(
      502,
      "the repository's Gitea server did not answer; try again shortly",
      {},
      { cause: err },
    );
  } finally {
    request.signal.removeEventListener('abort', onAbort);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new GitHttpError(
      502,
      `Gitea refused aiworker's service account (HTTP ${res.status}); an operator must check GITEA_USERNAME and GITEA_TOKEN and the account's access to this repository`,
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw repositoryNotFound();
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new GitHttpError(502, `Gitea redirected the request (HTTP ${res.status})`);
  }
  const relayed: Record<string, string> = {};
  for (const name of RELAYED_HEADERS) {
    const value = res.headers.get(name);
    if (value) relayed[name] = value;
  }
  const body = res.body
    ? Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)
    : Readable.from([]);
  request.signal.addEventListener('abort', () => body.destroy(), { once: true });
  return { status: res.status, headers: relayed, body };
}
