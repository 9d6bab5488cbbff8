import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import { openLocal } from './backend-local';
import type { BackendRequest } from './backend';
import { failureDetail } from '../../platform/failures';
import { GitHttpError } from './errors';
import { requestBody } from './request-body';
import { infoRefsRequest } from '../../test/support/git';

/**
 * A request whose body fails before the backend starts reading it (the gateway decompresses the
 * body while it looks the repository up) is answered with that failure, not left waiting.
 */
describe('openLocal', () => {
  let reposDir: string;
  const projectId = 'p1';

  beforeAll(() => {
    reposDir = mkdtempSync(path.join(os.tmpdir(), 'aiworker-backend-local-'));
    execFileSync('git', ['init', '--quiet', '--bare', path.join(reposDir, `${projectId}.git`)]);
  });
  afterAll(() => rmSync(reposDir, { recursive: true, force: true }));

  it('answers a body that went over the limit before the backend opened with its 413', async () => {
    const req = new PassThrough() as unknown as IncomingMessage;
    req.headers = { 'content-encoding': 'gzip' };
    const limitBytes = 1000;
    const body = requestBody(req, limitBytes);
    (req as unknown as PassThrough).end(gzipSync(Buffer.alloc(5000, 0x30)));
    // Let decompression run and fail first, as it can while the repository is looked up.
    await new Promise<void>((resolve) => body.once('error', () => resolve()));
    const request: BackendRequest = {
      action: 'git-upload-pack',
      service: 'git-upload-pack',
      method: 'POST',
      contentType: 'application/x-git-upload-pack-request',
      gitProtocol: 'version=2',
      body,
      remoteUser: 'agent-a',
      remoteAddr: '127.0.0.1',
      signal: new AbortController().signal,
    };
    const answered = await openLocal({ reposDir, projectId, bodyLimitBytes: limitBytes }, request)
      .then(() => null)
      .catch((err: unknown) => err);
    expect(answered).toBeInstanceOf(GitHttpError);
    expect((answered as GitHttpError).status).toBe(413);
  }, 10_000);

  it("answers a missing git in plain words, keeping spawn's error for the log", async () => {
    const request = infoRefsRequest();
    const PATH = process.env.PATH;
    process.env.PATH = path.join(reposDir, 'no-such-bin'); // spawn looks git up on this
    const answered = await openLocal({ reposDir, projectId, bodyLimitBytes: 1000 }, request)
      .then(() => null)
      .catch((err: unknown) => err)
      .finally(() => {
        process.env.PATH = PATH;
      });
    expect(answered).toBeInstanceOf(GitHttpError);
    expect((answered as GitHttpError).status).toBe(503);
    expect((answered as GitHttpError).message).toBe('git is not available on this server');
    expect(failureDetail(answered)).toMatch(/caused by Error: spawn git ENOENT/);
  });
});
