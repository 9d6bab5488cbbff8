import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { createLogger } from '../../platform/logger';
import { errorHandler, notFound } from '../middleware/errors';
import { webRoutes } from './web';

/** The board's files behind the same 404 handling as in api/app.ts. */
async function serve(distDir: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(webRoutes(distDir));
  app.use(notFound);
  app.use(errorHandler(createLogger({ logLevel: 'silent' })));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('serving the board', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'aiworker-web-'));

  describe('when it is built', () => {
    const dist = path.join(root, 'dist');
    let web: Awaited<ReturnType<typeof serve>>;
    beforeAll(async () => {
      mkdirSync(path.join(dist, 'assets'), { recursive: true });
      writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>board</title>');
      writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
      web = await serve(dist);
    });
    afterAll(() => web.close());

    it.each(['/', '/projects/42', '/projects/42/tasks/7', '/projects/42/agents'])(
      'answers %s with the page, not cached',
      async (page) => {
        const res = await fetch(`${web.url}${page}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(res.headers.get('cache-control')).toBe('no-cache');
        expect(await res.text()).toContain('<title>board</title>');
      },
    );

    it('serves hashed assets as immutable', async () => {
      const res = await fetch(`${web.url}/assets/index-abc123.js`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toContain('immutable');
    });

    it.each(['/api/nothing', '/healthz/x', '/assets/missing.js', '/favicon.ico'])(
      'leaves %s to the JSON 404',
      async (p) => {
        const res = await fetch(`${web.url}${p}`);
        expect(res.status).toBe(404);
        expect(await res.json()).toEqual({
          error: { code: 'not_found', message: `no route GET ${p}`, retryable: false },
        });
      },
    );

    it('gives the page only to GET', async () => {
      const res = await fetch(`${web.url}/projects/42`, { method: 'POST' });
      expect(res.status).toBe(404);
    });
  });

  it('says how to build it when web/dist is missing', async () => {
    const web = await serve(path.join(root, 'not-built'));
    try {
      const res = await fetch(`${web.url}/projects/42`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('npm run build:web');
      expect((await fetch(`${web.url}/api/tasks`)).status).toBe(404);
    } finally {
      await web.close();
    }
  });
});
