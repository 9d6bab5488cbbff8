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
