import { readFileSync } from 'node:fs';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { Client, Connection } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from './config';

/**
 * How to reach Temporal: the address, TLS (mTLS when a client certificate is configured) and an
 * API key, for the client here and the worker's native connection alike. Files are read once.
 */
export function temporalConnectionOptions(config: Pick<Config, 'temporal'>): {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
} {
  const { address, tls, apiKey } = config.temporal;
  if (!tls) return { address, ...(apiKey ? { apiKey } : {}) };
  const file = (name: string | undefined) => (name ? readFileSync(name) : undefined);
  const crt = file(tls.certFile);
  const key = file(tls.keyFile);
  return {
    address,
    tls: {
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
      ...(tls.caFile ? { serverRootCACertificate: file(tls.caFile) } : {}),
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    },
    ...(apiKey ? { apiKey } : {}),
  };
}

/** The process's single Temporal client (STYLE: connections are created once per process). */
export interface TemporalHandle {
  connection: Connection;
  client: Client;
  /**
   * A second channel without the client's retry interceptor, for health probes: a probe must give
   * its answer within its deadline and leave no retry running behind it.
   */
  probe: Connection;
  close(): Promise<void>;
}

/**
 * Creates the Temporal client without waiting for the server, so the API can start (and say it
 * is not ready) while Temporal is still coming up.
 */
export function createTemporalClient(config: Pick<Config, 'temporal'>): TemporalHandle {
  const options = temporalConnectionOptions(config);
  const connection = Connection.lazy(options);
  const probe = Connection.lazy({ ...options, interceptors: [] });
  // Starts, updates and signals carry the caller's trace to the workflow (platform/tracing.ts).
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
  });
  return {
    connection,
    client,
    probe,
    close: async () => {
      await Promise.allSettled([connection.close(), probe.close()]);
    },
  };
}

/** Resolves when the Temporal frontend answers within `timeoutMs`; rejects otherwise. */
export async function pingTemporal(
  handle: TemporalHandle,
  namespace: string,
  timeoutMs = 2000,
): Promise<void> {
  await handle.probe.withDeadline(Date.now() + timeoutMs, () =>
    handle.probe.workflowService.describeNamespace({ namespace }),
  );
}
