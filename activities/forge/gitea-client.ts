/**
 * The HTTP side of the Gitea forge: one `gitea-js` client with a per-request timeout, and the
 * translation of what Gitea (or the network) answers into `ForgeRefusal` / `ForgeUnavailable`
 * with messages an agent and a person can act on. Credentials never reach a message: every
 * message built here goes through `redact`.
 */
import { giteaApi } from 'gitea-js';
import type { Api } from 'gitea-js';
import type { z } from 'zod';
import { ForgeRefusal, ForgeUnavailable } from './forge';

/**
 * Thrown by `GiteaClient.request` when Gitea answered with a status other than 2xx; the forge
 * methods decide what it means for them (a 404 on a branch is "no such branch") and the rest is
 * translated by `GiteaClient.translate` before it leaves the provider.
 */
export class GiteaHttpError extends Error {
  constructor(
    readonly status: number,
    /** Gitea's `message` (redacted), '' when it gave none. */
    readonly giteaMessage: string,
    /** What the provider was doing, e.g. "creating branch x in acme/app". */
    readonly action: string,
  ) {
    super(
      `Gitea answered HTTP ${status} while ${action}${giteaMessage ? `: ${giteaMessage}` : ''}`,
    );
    this.name = 'GiteaHttpError';
  }
}

/** How the provider reaches Gitea's API. */
export interface GiteaClientOptions {
  baseUrl: string;
  token: string;
  username: string;
  timeoutMs: number;
  fetch: typeof fetch;
}

/** One Gitea API connection and its error handling, shared by the forge's methods. */
export interface GiteaClient {
  readonly api: Api<unknown>;
  readonly username: string;
  /**
   * Runs one API call and returns its body checked against `schema`. Rejects with
   * `GiteaHttpError` for a non-2xx answer and `ForgeUnavailable` for timeouts, network failures
   * and bodies that are not what Gitea documents.
   */
  request<S extends z.ZodType>(
    action: string,
    call: () => Promise<unknown>,
    schema: S,
  ): Promise<z.infer<S>>;
  /** The forge error for anything a forge method let escape; `repo` is "owner/name". */
  translate(err: unknown, repo: string): Error;
  /** `text` with the token (raw, URL-encoded, or inside a basic-auth header) masked. */
  redact: (text: string) => string;
}

function isResponse(value: unknown): value is Response & { error: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'status' in value &&
    'headers' in value &&
    'ok' in value
  );
}

// Checked by shape, not instanceof: fetch's errors may come from another realm (a VM context).
function isErrorLike(value: unknown): value is Error {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Error).name === 'string' &&
    typeof (value as Error).message === 'string'
  );
}

function isTimeout(err: unknown): boolean {
  return isErrorLike(err) && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/** Gitea's error text: `{message}`, a binding error list, or a plain-text body. */
function giteaMessage(body: unknown): string {
  if (typeof body === 'string') return body.trim().slice(0, 300);
  if (Array.isArray(body)) return body.map(giteaMessage).filter(Boolean).join('; ');
  if (typeof body === 'object' && body !== null && 'message' in body) {
    return typeof body.message === 'string' ? body.message.trim() : '';
  }
  return '';
}

/** Creates the client; `fetch` is wrapped so that every request gives up after `timeoutMs`. */
export function createGiteaClient(options: GiteaClientOptions): GiteaClient {
  const { baseUrl, token, username, timeoutMs } = options;
  const secrets = [
    token,
    encodeURIComponent(token),
    Buffer.from(`${username}:${token}`).toString('base64'),
  ];
  const redact = (text: string) =>
    secrets.reduce((out, secret) => out.split(secret).join('***'), text);

  const timedFetch: typeof fetch = (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return options.fetch(input, { ...init, signal });
  };
  const api = giteaApi(baseUrl, { token, customFetch: timedFetch });

  const unavailableBecause = (err: unknown, action: string) => {
    if (isTimeout(err)) {
      return new ForgeUnavailable(
        `Gitea at ${baseUrl} did not answer within ${timeoutMs} ms while ${action}; it may be overloaded or unreachable. Try again later.`,
      );
    }
    const cause = isErrorLike(err) && isErrorLike(err.cause) ? err.cause : err;
    const detail = isErrorLike(cause)
      ? ('code' in cause && String(cause.code)) || cause.message
      : String(cause);
    return new ForgeUnavailable(
      redact(`could not reach Gitea at ${baseUrl} while ${action} (${detail}); try again later.`),
    );
  };

  async function request<S extends z.ZodType>(
    action: string,
    call: () => Promise<unknown>,
    schema: S,
  ): Promise<z.infer<S>> {
    let response: unknown;
    try {
      response = await call();
    } catch (err) {
      if (isResponse(err)) {
        throw new GiteaHttpError(err.status, redact(giteaMessage(err.error)), action);
      }
      if ((isErrorLike(err) && err.name === 'TypeError') || isTimeout(err)) {
        throw unavailableBecause(err, action);
      }
      throw err;
    }
    // gitea-js reads the body after the headers and keeps a failed read as `error`.
    const read = isResponse(response) ? response.error : undefined;
    if (isTimeout(read)) throw unavailableBecause(read, action);
    const data: unknown =
      typeof response === 'object' && response !== null && 'data' in response
        ? response.data
        : undefined;
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const where = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
        .join('; ');
      throw new ForgeUnavailable(
        redact(
          `Gitea's answer while ${action} is not shaped as its API documents (${where}); is ${baseUrl} a Gitea server?`,
        ),
      );
    }
    return parsed.data;
  }

  function translate(err: unknown, repo: string): Error {
    if (err instanceof ForgeRefusal) return new ForgeRefusal(redact(err.message), err.status);
    if (err instanceof ForgeUnavailable) return new ForgeUnavailable(redact(err.message));
    if (!(err instanceof GiteaHttpError)) {
      if (!isErrorLike(err)) return new Error(redact(String(err)));
      err.message = redact(err.message);
      if (err.stack) err.stack = redact(err.stack);
      return err;
    }
    const { status, action } = err;
    const said = err.giteaMessage ? ` Gitea said: "${err.giteaMessage}".` : '';
    let message: string;
    if (status === 401) {
      message = `Gitea rejected the API token of "${username}" (HTTP 401) while ${action}.${said} The token is wrong, expired or revoked: configure a valid one.`;
    } else if (status === 403) {
      message = `Gitea denied "${username}" (HTTP 403) while ${action}.${said} The token needs the write:repository scope (write:organization to create repositories in an organisation) and the account needs write access to ${repo}.`;
    } else if (status === 404) {
      message = `repository ${repo} not found on Gitea (or "${username}" cannot see it)`;
    } else if (status >= 500) {
      return new ForgeUnavailable(
        redact(
          `Gitea failed (HTTP ${status}) while ${action}.${said} This is usually temporary; try again later.`,
        ),
      );
    } else {
      message = `Gitea refused (HTTP ${status}) while ${action}.${said}`;
    }
    return new ForgeRefusal(redact(message), status);
  }

  return { api, username, request, translate, redact };
}
