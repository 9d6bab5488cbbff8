/** A tiny JSON client for the API with the caller's token. */
export function apiClient(baseUrl: string, token: string) {
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const json: any = text ? JSON.parse(text) : undefined;
    return { status: res.status, body: json };
  };
  return {
    get: (path: string) => request('GET', path),
    post: (path: string, body?: unknown) => request('POST', path, body),
    del: (path: string) => request('DELETE', path),
  };
}

/** Every entry of the audit log (all pages), as an administrator reads it. */
export async function wholeAudit(admin: ReturnType<typeof apiClient>): Promise<any[]> {
  const entries: any[] = [];
  for (let after = 0; ;) {
    const page = (await admin.get(`/api/audit?limit=500&after=${after}`)).body;
    entries.push(...page.entries);
    if (page.next === null) return entries;
    after = page.next;
  }
}

type Client = ReturnType<typeof apiClient>;

/**
 * Creates a project for a test's setting and returns it, as a client that follows the error
 * contract would: after a retryable answer (`timed_out`: the project's workflow did not answer
 * within 10 s, as on a loaded machine) the project may still be created, so it is looked for by
 * its name before the request is made again. Anything else fails the test with the answer.
 */
export async function createProject(
  client: Client,
  body: { name: string } & Record<string, unknown>,
): Promise<any> {
  const deadline = Date.now() + 60_000;
  let tried = false;
  for (;;) {
    const res = await client.post('/api/projects', body);
    if (res.status === 201) return res.body;
    // A name taken by an earlier attempt of ours that ended after its answer.
    if (res.status === 409 && tried) {
      const found = await projectNamed(client, body.name);
      if (found) return found;
    }
    if (!res.body?.error?.retryable || Date.now() > deadline) {
      throw new Error(`POST /api/projects answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    tried = true;
    for (const until = Date.now() + 10_000; Date.now() < until;) {
      const found = await projectNamed(client, body.name);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** The project of this name, if any (read through every page). */
async function projectNamed(client: Client, name: string): Promise<any> {
  for (let after: string | null = null; ;) {
    const page: { status: number; body: any } = await client.get(
      `/api/projects?limit=200${after ? `&after=${after}` : ''}`,
    );
    if (page.status !== 200) return undefined;
    const found = page.body.projects.find((p: { name: string }) => p.name === name);
    if (found || page.body.next === null) return found;
    after = page.body.next;
  }
}

/** Registers an agent for a test's setting; fails the test with the answer if it is refused. */
export async function registerAgent(
  client: Client,
  body: { name: string; projectIds: string[] | '*' } & Record<string, unknown>,
): Promise<{ agentId: string; token: string } & Record<string, any>> {
  const res = await client.post('/api/agents', body);
  if (res.status !== 201) {
    throw new Error(`POST /api/agents answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}
