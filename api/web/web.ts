import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import type { Request, Response } from 'express';
import { REPO_ROOT } from '../../platform/config';
import { currentRequest } from '../../platform/request-context';

/** Where `npm run build:web` (Vite) writes the board. */
export const WEB_DIST = path.join(REPO_ROOT, 'web', 'dist');

/** Paths that belong to the API, the MCP endpoint or socket.io: never answered with the board. */
const RESERVED = /^\/(api|mcp|socket\.io|healthz|readyz)(\/|$)/;

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aiworker: board not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The board has not been built</h1>
<p>The API is running, but the web UI's files are missing. Build them once with</p>
<pre style="background: #f3f4f6; padding: .75rem 1rem; border-radius: 6px">npm run build:web</pre>
<p>and reload this page. (<code>npm run setup</code> does it too.)</p>
</body></html>
`;

/**
 * The board's static files (web/dist) with a single-page-app fallback: any other GET for a path
 * that looks like a page (no file extension) gets index.html, so links such as
 * `/projects/<id>/tasks/<id>` survive a reload. API paths are left alone and keep their JSON 404.
 */
export function webRoutes(distDir: string = WEB_DIST): Router {
  const router = Router();
  const indexFile = path.join(distDir, 'index.html');
  router.use(
    express.static(distDir, {
      index: false,
      setHeaders(res, file) {
        // Vite names assets after their content hash, so they never change under one name.
        if (file.startsWith(path.join(distDir, 'assets') + path.sep)) {
          res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
        }
      },
    }),
  );
  router.get(/.*/, (req: Request, res: Response, next) => {
    if (RESERVED.test(req.path) || path.extname(req.path) !== '') {
      next();
      return;
    }
    // Checked per request so that a build made while the API runs is picked up without a restart.
    if (!existsSync(indexFile)) {
      currentRequest()?.logger.warn(
        { status: 503, path: req.path },
        'the board is not built: run npm run build:web',
      );
      res.status(503).type('html').send(NOT_BUILT_PAGE);
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(indexFile);
  });
  return router;
}
