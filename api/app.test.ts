import { randomUUID } from 'node:crypto';
import { io as connectSocket } from 'socket.io-client';
import { startTestApi } from '../test/support/api';
import type { TestApi } from '../test/support/api';

describe('the API surface', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  const call = (path: string, init: RequestInit = {}) => fetch(`${api.url}${path}`, init);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  describe('authentication', () => {
    it.each([
      ['no Authorization header', {}],
      ['a wrong token', bearer('not-the-token-at-all-000000000000')],
      ['a malformed header', { authorization: 'Token abc' }],
      ['an empty bearer', { authorization: 'Bearer ' }],
    ])('refuses %s with 401 and the documented error body', async (_what, headers) => {
      const res = await call('/api/session', { headers: headers as Record<string, string> });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        error: {
          code: 'unauthorized',
          message: expect.stringContaining('Bearer') as string,
          retryable: false,
          requestId: res.headers.get('x-request-id'),
        },
      });
      // MCP clients read JSON-RPC, and the MCP authorization spec's challenge.
      const mcp = await call('/mcp', { headers: headers as Record<string, string> });
      expect(mcp.status).toBe(401);
      expect(mcp.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await mcp.json()).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32000,
          message: expect.stringContaining('Bearer') as string,
          data: { code: 'unauthorized', retryable: false, requestId: expect.any(String) },
        },
      });
    });

    it('accepts the admin token', async () => {
      const res = await call('/api/session', { headers: bearer(api.adminToken) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ principal: { kind: 'admin', id: 'admin' } });
    });

    it('keeps unknown routes behind the token too', async () => {
      expect((await call('/api/nothing-here')).status).toBe(401);
      const res = await call('/api/nothing-here', { headers: bearer(api.adminToken) });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: {
          code: 'not_found',
          message: 'no route GET /api/nothing-here',
          retryable: false,
          requestId: expect.any(String),
        },
      });
    });
  });

  it.each(['/', '/api/session', '/healthz'])(
    'sends security headers with %s: a strict CSP, no framing, nosniff',
    async (path) => {
      const res = await call(path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    },
  );

  describe('bad requests', () => {
    const post = (body: string, extra: Record<string, string> = {}) =>
      call('/api/session', {
        method: 'POST',
        headers: { ...bearer(api.adminToken), 'content-type': 'application/json', ...extra },
        body,
      });

    it('answers 400 invalid_json for a body that is not JSON', async () => {
      const res = await post('{"title": ');
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          code: 'invalid_json',
          message: 'the request body is not valid JSON',
          retryable: false,
          requestId: expect.any(String),
        },
      });
    });

    it.each([
      ['text/plain', '{"answer": "yes"}'],
      ['application/x-www-form-urlencoded', 'answer=yes'],
      [undefined, 'answer=yes'],
    ])('answers 415 for a body sent as %s, before any route runs', async (type, body) => {
      const headers: Record<string, string> = bearer(api.adminToken);
      const res = await call('/api/session', {
        method: 'POST',
        headers: type ? { ...headers, 'content-type': type } : headers,
        body: type ? body : new Blob([body]),
      });
      expect(res.status).toBe(415);
      expect(await res.json()).toEqual({
        error: {
          code: 'unsupported_media_type',
          message: 'send the body as JSON, with the header Content-Type: application/json',
          retryable: false,
          requestId: expect.any(String),
        },
      });
    });

    it('takes a bodiless POST (approve, cancel) without a content type', async () => {
      const id = randomUUID();
      const res = await call(`/api/tasks/${id}/cancel`, {
        method: 'POST',
        headers: bearer(api.adminToken),
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    });

    /** The log lines at warn or above (pino: 40) that name a request id. */
    const warnedAbout = (requestId: string) =>
      api
        .logs()
        .split('\n')
        .filter((l) => l.includes(requestId))
        .filter((l) => Number((JSON.parse(l) as { level: number }).level) >= 40);

    it('answers 400 for a URL whose percent-encoding is broken, not a 500', async () => {
      for (const path of ['/api/tasks/%ZZ', '/api/projects/%E0/events', '/api/merges/%']) {
        const res = await call(path, { headers: bearer(api.adminToken) });
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        const requestId = res.headers.get('x-request-id')!;
        expect(await res.json()).toEqual({
          error: {
            code: 'validation_failed',
            message: 'the URL is not validly percent-encoded',
            retryable: false,
            requestId,
          },
        });
        expect(warnedAbout(requestId)).toEqual([]);
      }
    });

    it('answers 400 for a compressed body that does not decompress, even before sign-in', async () => {
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const res = await call('/api/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
          body: 'not compressed at all',
        });
        expect({ encoding, status: res.status }).toEqual({ encoding, status: 400 });
        const requestId = res.headers.get('x-request-id')!;
        expect(await res.json()).toEqual({
          error: {
            code: 'invalid_json',
            message: 'the request body could not be decompressed (Content-Encoding)',
            retryable: false,
            requestId,
          },
        });
        expect(warnedAbout(requestId)).toEqual([]);
      }
    });

    it('answers 413 for a body over the limit', async () => {
      const res = await post(JSON.stringify({ description: 'x'.repeat(300 * 1024) }));
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'payload_too_large',
      );
    });
  });

  it('keeps the MCP endpoint for agents', async () => {
    const res = await call('/mcp', { method: 'POST', headers: bearer(api.adminToken) });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: 'MCP tools act as an agent: register one with POST /api/agents and use its token',
        data: { code: 'forbidden', retryable: false, requestId: expect.any(String) },
      },
    });
  });

  describe('socket.io', () => {
    const attempt = (auth: Record<string, unknown>) =>
      new Promise<string>((resolve) => {
        const socket = connectSocket(api.url, {
          auth,
          transports: ['websocket'],
          reconnection: false,
        });
        socket.on('connect', () => {
          socket.close();
          resolve('connected');
        });
        socket.on('connect_error', (err) => {
          socket.close();
          resolve(err.message);
        });
      });

    it('refuses a connection without a valid token', async () => {
      expect(await attempt({})).toMatch(/^unauthorized/);
      expect(await attempt({ token: 'wrong' })).toMatch(/^unauthorized/);
      expect(await attempt({ token: 42 })).toMatch(/^unauthorized/);
    });

    it('accepts the admin token', async () => {
      expect(await attempt({ token: api.adminToken })).toBe('connected');
    });
  });

  it('never writes a token into its logs', async () => {
    await call('/api/session', { headers: bearer(api.adminToken) });
    await call('/api/session', { headers: bearer('a-wrong-token-that-is-secret-too') });
    const logs = api.logs();
    expect(logs).not.toContain(api.adminToken);
    expect(logs).not.toContain('a-wrong-token-that-is-secret-too');
  });
});
