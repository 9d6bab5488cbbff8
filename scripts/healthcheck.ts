// The container's HEALTHCHECK: exits 0 when this container's process answers GET /healthz, the
// API on PORT or a worker on WORKER_HEALTH_PORT (a container runs one of them), else 1.
const ports = [process.env.PORT ?? '3000', process.env.WORKER_HEALTH_PORT].filter(
  (port): port is string => port !== undefined && port !== '',
);

async function healthy(port: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
      signal: AbortSignal.timeout(4000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

void Promise.all(ports.map(healthy)).then((answers) => process.exit(answers.some(Boolean) ? 0 : 1));
