/** An API call that did not succeed, with the server's own words when it gave any. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The board's only way to the REST API: every call carries the signed-in token. */
export interface Api {
  get<T>(path: string): Promise<T>;
  /** `headers` adds request headers of the route's own (`Idempotency-Key`). */
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
}

/**
 * A client for the API with `token`, or, when it is null, with the session cookie of a person
 * signed in with their password (the browser sends it, and the Origin header the API checks). A
 * 401 means the token or the session no longer works: `onUnauthorized` sends the person back to
 * sign-in.
 */
export function createApi(token: string | null, onUnauthorized: (message: string) => void): Api {
  const request = async <T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extraHeaders,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(
        0,
        'network',
        'cannot reach the aiworker API; check that it is running and that you are online',
      );
    }
    const json = parseJson(await res.text());
    if (res.ok) return json as T;
    const err = errorOf(res, json);
    if (res.status === 401) onUnauthorized(err.message);
    throw err;
  };
  return {
    get: (path) => request('GET', path),
    post: (path, body, headers) => request('POST', path, body ?? {}, headers),
    patch: (path, body) => request('PATCH', path, body),
    delete: (path) => request('DELETE', path),
  };
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The API's `{error: {code, message}}`, or words for an answer that is not one (a proxy's page). */
function errorOf(res: Response, json: unknown): ApiError {
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error?.code === 'string' && typeof error.message === 'string') {
    return new ApiError(res.status, error.code, error.message);
  }
  const status = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  return new ApiError(res.status, `http_${res.status}`, `the server answered ${status}`);
}

/** What to show a person for any failure. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
