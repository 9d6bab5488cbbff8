import { openGitea } from './backend-gitea';
import { freePort } from '../../test/support/free-port';
import { infoRefsRequest } from '../../test/support/git';
import { failureDetail } from '../../platform/failures';
import { GitHttpError } from './errors';

describe('openGitea', () => {
  it("answers a Gitea that does not answer in plain words, keeping fetch's error for the log", async () => {
    const request = infoRefsRequest();
    const cloneUrl = `http://127.0.0.1:${await freePort()}/acme/x.git`;
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
