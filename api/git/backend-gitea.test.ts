import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { openGitea } from './backend-gitea';
import type { BackendRequest } from './backend';
import { failureDetail } from '../../platform/failures';
import { GitHttpError } from './errors';

/** A port of 127.0.0.1 nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('openGitea', () => {
  it("answers a Gitea that does not answer in plain words, keeping fetch's error for the log", async () => {
    const request: BackendRequest = {
      action: 'info/refs',
      service: 'git-upload-pack',
      method: 'GET',
      contentType: null,
      gitProtocol: null,
      body: null,
      remoteUser: 'agent-a',
      remoteAddr: '127.0.0.1',
      signal: new AbortController().signal,
    };
    const cloneUrl = `http://127.0.0.1:${await closedPort()}/acme/x.git`;
    const answered = await openGitea({ cloneUrl, account: { username: 'u', token: 't' } }, request)
      .then(() => null)
      .catch((err: unknown) => err);
    expect(answered).toBeInstanceOf(GitHttpError);
    expect((answered as GitHttpError).status).toBe(502);
    expect((answered as GitHttpError).message).toBe(
      "the repository's Gitea server did not answer; try again shortly",
    );
    expect(failureDetail(answered)).toMatch(
      /caused by TypeError: fetch failed; caused by .*ECONNREFUSED/,
    );
  });
});
