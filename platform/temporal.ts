import { readFileSync } from 'node:fs';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { InterceptingCall, ListenerBuilder, RequesterBuilder } from '@grpc/grpc-js';
import type { Interceptor } from '@grpc/grpc-js';
import {
  Client,
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
} from '@temporalio/client';
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

/** A retry of a call is never due later than this after its last failure (the SDK's 5 s, jittered). */
const LONGEST_RETRY_DELAY_MS = 6_500;

/**
 * The calls under way on a channel, retries included, so that closing it can wait for them: a
 * call's retry started on a closed channel throws from a timer, where nothing can catch it.
 */
class CallsInFlight {
  private count = 0;
  private waiters: (() => void)[] = [];
  closing = false;

  readonly interceptor: Interceptor = (options, nextCall) =>
    new InterceptingCall(
      nextCall(options),
      new RequesterBuilder()
        .withStart((metadata, listener, next) => {
          this.count++;
          const done = new ListenerBuilder()
            .withOnReceiveStatus((status, nextStatus) => {
              this.count--;
              if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
              nextStatus(status);
            })
            .build();
          next(metadata, done);
        })
        .build(),
    );

  /** Resolves when no call is under way, or after `timeoutMs` (a long poll may still be open). */
  settled(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * Creates the Temporal client without waiting for the server, so the API can start (and say it
 * is not ready) while Temporal is still coming up. The client retries what the server failed for
 * a passing reason, as the SDK does, until it is closed: then the calls under way end without
 * another try, and the channel closes once they have.
 */
export function createTemporalClient(config: Pick<Config, 'temporal'>): TemporalHandle {
  const options = temporalConnectionOptions(config);
  const calls = new CallsInFlight();
  const retries = defaultGrpcRetryOptions();
  const connection = Connection.lazy({
    ...options,
    interceptors: [
      calls.interceptor,
      makeGrpcRetryInterceptor({
        ...retries,
        retryableDecider: (attempt, status) =>
          !calls.closing && retries.retryableDecider(attempt, status),
      }),
    ],
  });
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
      calls.closing = true;
      await calls.settled(LONGEST_RETRY_DELAY_MS);
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
