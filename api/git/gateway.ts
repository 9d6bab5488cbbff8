/**
 * The git gateway: git's smart HTTP protocol at `/git/<projectId>.git`, in front of every
 * project's repository, so that agents never hold a path on disk or a forge credential and can
 * push nothing a person has not asked of them.
 *
 *   GET  /git/<projectId>.git/info/refs?service=git-upload-pack|git-receive-pack
 *   POST /git/<projectId>.git/git-upload-pack
 *   POST /git/<projectId>.git/git-receive-pack
 *
 * A request is authenticated with the caller's aiworker token (HTTP Basic with the token as the
 * password, git's convention, or `Authorization: Bearer`), authorized against the project (an
 * agent sees only the projects in its scope; any other project is "not found"), and a push's ref
 * updates are judged (`push-policy.ts`) before a byte of it reaches the repository. Then the
 * request goes to `git http-backend` (local projects) or to Gitea (with aiworker's service
 * account), and the answer streams back. Dumb HTTP and every other path are refused.
 */
import { RateLimitedError } from '../errors';
import { currentRequest } from '../../platform/request-context';
import { clientAddress } from '../middleware/limits';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import type { Request, Response } from 'express';
import { findProject } from '../../db/projects';
import type { Logger } from '../../platform/logger';
import { GIT_GATEWAY_PREFIX, projectGitUrl } from '../../platform/git-url';
import type { ApiDeps } from '../deps';
import { maySeeProject } from '../middleware/auth';
import type { Principal } from '../middleware/auth';
import type { BackendAnswer, BackendRequest, GitAction, GitService } from './backend';
import { openGitea } from './backend-gitea';
import { openLocal } from './backend-local';
import { asGitHttpError, GitHttpError, repositoryNotFound, unauthorized } from './errors';
import { failureDetail } from '../../platform/failures';
import { queryTaskView } from '../../platform/task-updates';
import { judgePush } from './push-policy';
import type { Verdict } from './push-policy';
import { capabilityRefusal } from './push-capabilities';
import { parseReceiveRequest } from './receive-commands';
import { refusalReport } from './receive-report';
import { BodyReader, requestBody } from './request-body';

/** What the gateway needs beyond the API's usual dependencies. */
export type GitGatewayDeps = Pick<
  ApiDeps,
  | 'authenticate'
  | 'limits'
  | 'db'
  | 'temporal'
  | 'logger'
  | 'gitea'
  | 'publicUrl'
  | 'git'
  | 'credentialChanges'
>;

/** How long a push waits for a task's workflow to confirm the task is still the agent's. */
const PUSH_CONFIRM_MS = 2000;

const ROUTE = /^\/([^/]+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;
const SERVICES: readonly string[] = ['git-upload-pack', 'git-receive-pack'];
const GIT_PROTOCOL = /^[A-Za-z0-9=:._-]{1,256}$/;
const PROJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The token in `Authorization`: Basic (the password, or the user name when that is empty) or Bearer. */
export function gitToken(header: string | undefined): string | undefined {
  const [scheme = '', value = ''] = (header ?? '').trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return value || undefined;
  if (!/^basic$/i.test(scheme)) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password || user || undefined;
}

/** The request's route: which project, which of the three requests, which service. */
function routeOf(req: Request): { projectId: string; action: GitAction; service: GitService } {
  const match = ROUTE.exec(req.path);
  if (!match) {
    throw new GitHttpError(
      404,
      "only git's smart HTTP protocol is served here: clone <aiworker URL>/git/<project id>.git",
    );
  }
  const projectId = match[1] ?? ''; // a project id has nothing to decode; anything else is not found
  const action = match[2] as GitAction;
  if (action === 'info/refs') {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new GitHttpError(405, 'info/refs is read with GET', { allow: 'GET' });
    }
    const service = new URL(req.originalUrl, 'http://gateway').searchParams.get('service');
    if (!service || !SERVICES.includes(service)) {
      throw new GitHttpError(
        403,
        "dumb HTTP is not served: use git's smart HTTP protocol (?service=git-upload-pack or git-receive-pack)",
      );
    }
    return { projectId, action, service: service as GitService };
  }
  if (req.method !== 'POST') {
    throw new GitHttpError(405, `${action} takes POST`, { allow: 'POST' });
  }
  return { projectId, action, service: action };
}

/** Who is asking, or a 401 that makes git ask for (or send) credentials. */
async function principalOf(deps: GitGatewayDeps, req: Request, res: Response): Promise<Principal> {
  const address = clientAddress(req);
  try {
    await deps.limits.checkAddress(address);
    const token = gitToken(req.headers.authorization);
    const principal = token ? await deps.authenticate(token) : undefined;
    if (!principal) {
      // Only a token that fails counts: git asks without credentials first, as HTTP clients do.
      if (token) await deps.limits.authFailed(address);
      throw unauthorized();
    }
    // The token's rate and open requests count git as they count REST and /mcp.
    res.once('close', await deps.limits.admit(principal));
    return principal;
  } catch (err) {
    if (err instanceof RateLimitedError) {
      throw new GitHttpError(429, err.message, { 'retry-after': String(err.retryAfterSeconds) });
    }
    throw err;
  }
}

/** Sends an error the way git shows it: plain text, one `remote:` line per line. */
function sendError(res: ServerResponse, err: GitHttpError): void {
  res.writeHead(err.status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-cache',
    ...err.headers,
  });
  res.end(`${err.message}\n`);
}

/** The git gateway's routes (see the module comment). */
export function gitRoutes(deps: GitGatewayDeps): Router {
  const router = Router();
  const logger = deps.logger.child({ scope: 'api.git' });
  router.use(GIT_GATEWAY_PREFIX, (req, res) => {
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    serve(deps, logger, req, res, aborted).catch((err: unknown) => {
      const known = asGitHttpError(err);
      const requestId = currentRequest()?.requestId;
      if (!known) logger.error({ requestId, err, path: req.originalUrl }, 'git gateway failed');
      else if (known.status >= 500) {
        logger.warn(
          { requestId, path: req.originalUrl, status: known.status, cause: failureDetail(err) },
          'git gateway request failed: a dependency is away',
        );
      }
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      sendError(
        res,
        known ?? new GitHttpError(500, 'internal error; the server logged the details'),
      );
    });
  });
  return router;
}

async function serve(
  deps: GitGatewayDeps,
  logger: Logger,
  req: Request,
  res: Response,
  aborted: AbortController,
): Promise<void> {
  const { signal } = aborted;
  const route = routeOf(req);
  const principal = await principalOf(deps, req, res);
  if (principal.kind === 'agent') {
    // A revoked or replaced token ends its clones and pushes under way: a push cut off before
    // git applied it changes nothing.
    const stopListening = deps.credentialChanges.onChange((agentId) => {
      if (agentId !== principal.agentId) return;
      aborted.abort();
      res.destroy();
    });
    res.once('close', stopListening);
  }
  const project = PROJECT_ID.test(route.projectId)
    ? await findProject(deps.db, route.projectId)
    : undefined;
  if (!project || !maySeeProject(principal, project.id)) throw repositoryNotFound();
  if (route.service === 'git-receive-pack' && principal.kind !== 'agent') {
    throw new GitHttpError(
      403,
      'people may fetch but not push: agents push their task branches, people merge through aiworker',
    );
  }
  const gitProtocol = req.headers['git-protocol'];
  if (
    gitProtocol !== undefined &&
    (typeof gitProtocol !== 'string' || !GIT_PROTOCOL.test(gitProtocol))
  ) {
    throw new GitHttpError(400, 'the Git-Protocol header is malformed');
  }
  const request: BackendRequest = {
    action: route.action,
    service: route.service,
    method: route.action === 'info/refs' ? 'GET' : 'POST',
    contentType: req.headers['content-type'] ?? null,
    gitProtocol: gitProtocol ?? null,
    body: null,
    remoteUser:
      principal.kind === 'agent'
        ? `agent-${principal.agentId}`
        : principal.kind === 'user'
          ? `user-${principal.userId}`
          : 'admin',
    remoteAddr: clientAddress(req),
    signal,
  };
  if (route.action !== 'info/refs') {
    const body = requestBody(req as IncomingMessage, deps.git.bodyLimitBytes);
    if (route.action === 'git-upload-pack') {
      request.body = body;
    } else {
      const agentId = principal.kind === 'agent' ? principal.agentId : '';
      const reader = new BodyReader(body);
      const parsed = await reader.readUntil(parseReceiveRequest);
      if (!parsed) throw new GitHttpError(400, 'the push ended before its list of ref updates');
      const { commands, capabilities, capabilityText } = parsed.request;
      const askWorkflow = (taskId: string) =>
        queryTaskView(deps.temporal.client, taskId, PUSH_CONFIRM_MS);
      const verdicts = await judgePush(deps.db, askWorkflow, {
        projectId: project.id,
        agentId,
        updates: commands,
      });
      // Push options above all must not pass: the forge would act on them as the service account.
      const refused = capabilityRefusal(capabilityText, capabilities);
      if (refused) for (const v of verdicts) v.refusal ??= refused;
      if (commands.length)
        logger.info(
          {
            projectId: project.id,
            agentId,
            updates: verdicts.map((v) => ({ ref: v.update.ref, refused: v.refusal })),
          },
          verdicts.some((v) => v.refusal) ? 'push refused' : 'push accepted',
        );
      if (verdicts.some((v) => v.refusal)) {
        await refuse(res, reader, verdicts, capabilities, project.id, deps);
        return;
      }
      request.body = reader.whole();
    }
  }
  const answer = await open(deps, project, request);
  res.writeHead(answer.status, answer.headers);
  if (req.method === 'HEAD') {
    answer.body.destroy();
    res.end();
    return;
  }
  // The pipeline watches the answer's end with listeners of its own, beside the middleware's
  // and this route's (request limits, metrics, deadline, abort): more than Node's default of
  // ten, which warns of a leak that is not one (they go with the response).
  res.setMaxListeners(20);
  await pipeline(answer.body, res);
}

/** Sends the request on to the project's repository. */
async function open(
  deps: GitGatewayDeps,
  project: { id: string; repository: { provider: 'local' | 'gitea' }; cloneUrl: string | null },
  request: BackendRequest,
): Promise<BackendAnswer> {
  if (project.repository.provider === 'local') {
    return await openLocal(
      {
        reposDir: deps.git.reposDir,
        projectId: project.id,
        bodyLimitBytes: deps.git.bodyLimitBytes,
      },
      request,
    );
  }
  if (!deps.gitea) {
    throw new GitHttpError(
      503,
      'this project is on Gitea, but this API process has no GITEA_URL, GITEA_TOKEN and GITEA_USERNAME',
    );
  }
  if (!project.cloneUrl) throw repositoryNotFound();
  return await openGitea({ cloneUrl: project.cloneUrl, account: deps.gitea }, request);
}

/**
 * Answers a refused push without applying any of it: the rest of its body is read and dropped
 * (so git hears the answer rather than a broken connection), then every update is reported
 * refused with its reason.
 */
async function refuse(
  res: Response,
  reader: BodyReader,
  verdicts: Verdict[],
  capabilities: Set<string>,
  projectId: string,
  deps: GitGatewayDeps,
): Promise<void> {
  // Past the size limit the rest is not worth reading: answer, then close the connection.
  const drained = await reader.discard().then(
    () => true,
    () => false,
  );
  const explanation = [
    'aiworker refused this push; nothing of it was applied.',
    'Push only your task branch: git push origin HEAD:refs/heads/task-<id>-feature (the branch get_next_task and create_branch name).',
    `Repository: ${projectGitUrl(deps.publicUrl, projectId)}`,
  ];
  const report = refusalReport(verdicts, capabilities, explanation);
  const headers: Record<string, string> = { 'cache-control': 'no-cache' };
  if (!drained) headers.connection = 'close';
  if (!report) {
    const lines = verdicts.map((v) => `${v.update.ref}: ${v.refusal ?? 'refused'}`);
    sendError(res, new GitHttpError(403, [explanation[0], ...lines].join('\n'), headers));
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': 'application/x-git-receive-pack-result' });
  res.end(report);
}
