/**
 * Where the gateway sends a request it has authorized: `git http-backend` over a local project's
 * bare repository, or the project's Gitea repository. Both take the same request and answer
 * with a status, a few headers and a body stream the gateway relays to the client.
 */
import type { Readable } from 'node:stream';

/** The three requests of git's smart HTTP protocol. */
export type GitAction = 'info/refs' | 'git-upload-pack' | 'git-receive-pack';

/** The services a client asks `info/refs` about. */
export type GitService = 'git-upload-pack' | 'git-receive-pack';

/** An authorized request, rebuilt by the gateway from what it checked (never the raw URL). */
export interface BackendRequest {
  action: GitAction;
  /** For `info/refs`: which service's refs. */
  service: GitService;
  method: 'GET' | 'POST';
  contentType: string | null;
  /** The `Git-Protocol` header (e.g. `version=2`), checked; null when absent. */
  gitProtocol: string | null;
  /** The decoded request body (POST), to be read to its end. */
  body: Readable | null;
  /** Who asks, for the repository's logs (`REMOTE_USER`). */
  remoteUser: string;
  remoteAddr: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** What the backend answered. */
export interface BackendAnswer {
  status: number;
  headers: Record<string, string>;
  body: Readable;
}

/** Response headers worth relaying to a git client. */
export const RELAYED_HEADERS = ['content-type', 'cache-control', 'expires', 'pragma'];
