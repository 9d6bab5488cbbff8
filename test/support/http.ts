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
