import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span, Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Config } from './config';
import { AIWORKER_VERSION } from './version';

/**
 * OpenTelemetry traces of one process: an HTTP request's span, the Temporal client's spans (start,
 * update, signal), and on the worker the spans of the activities the workflow then runs, all in
 * one trace (Temporal carries the context in message headers; workflows/tracing.ts passes it on
 * from a workflow's messages to its activities). On when `OTEL_EXPORTER_OTLP_ENDPOINT` is set:
 * spans go there over OTLP/HTTP (the exporter also reads the standard `OTEL_EXPORTER_OTLP_*`
 * variables, e.g. headers). Off otherwise: the interceptors stay in place and record nothing.
 */
export interface Tracing {
  /** Sends the spans buffered so far. */
  flush(): Promise<void>;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** Starts tracing for `service` (`aiworker-api`, `aiworker-worker`) as the configuration says. */
export function startTracing(config: Pick<Config, 'otlpEndpoint'>, service: string): Tracing {
  if (!config.otlpEndpoint)
    return { flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
  const processor = new BatchSpanProcessor(
    new OTLPTraceExporter({ url: new URL('v1/traces', withSlash(config.otlpEndpoint)).toString() }),
  );
  const provider = new NodeTracerProvider({
    resource: new Resource({
      [ATTR_SERVICE_NAME]: service,
      [ATTR_SERVICE_VERSION]: AIWORKER_VERSION,
    }),
    spanProcessors: [processor],
  });
  provider.register();
  return { flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** The tracer aiworker's own spans come from (a no-op while tracing is off). */
export function tracer(): Tracer {
  return trace.getTracer('aiworker', AIWORKER_VERSION);
}

/**
 * Runs an incoming request's handling inside a server span, continuing the caller's trace when
 * it sent a `traceparent` header. `finish` names the span once the route is known.
 */
export function serverSpan(
  name: string,
  headers: Record<string, string | string[] | undefined>,
  run: (span: Span) => void,
): void {
  const parent = propagation.extract(context.active(), headers);
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER }, parent);
  context.with(trace.setSpan(parent, span), () => run(span));
}

/** Ends a server span with the answer's status. */
export function endServerSpan(span: Span, route: string, method: string, status: number): void {
  span.updateName(`${method} ${route}`);
  span.setAttributes({
    'http.request.method': method,
    'http.route': route,
    'http.response.status_code': status,
  });
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
