import { Client, Connection } from '@temporalio/client';
import type { Config } from './config';

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
  const connection = Connection.lazy({ address: config.temporal.address });
  const probe = Connection.lazy({ address: config.temporal.address, interceptors: [] });
  const client = new Client({ connection, namespace: config.temporal.namespace });
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
