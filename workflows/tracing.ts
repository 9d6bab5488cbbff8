// Carries the trace of the request that started, updated or signalled a workflow on to the
// activities the workflow then schedules, so that an activity's span (the worker's activity
// interceptor) joins the trace of the API request behind it (platform/tracing.ts).
//
// It only copies the trace header the Temporal client attached; it creates no spans and uses no
// timers inside workflow code, so it adds nothing to a history, and histories recorded without it
// replay unchanged. Bundled with the workflows as an interceptor module (worker/create-worker.ts).
import type {
  ActivityInput,
  LocalActivityInput,
  Next,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptorsFactory,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import type { Headers } from '@temporalio/common';

/** The header `@temporalio/interceptors-opentelemetry` keeps a trace context in. */
export const TRACE_HEADER = '_tracer-data';

export const interceptors: WorkflowInterceptorsFactory = () => {
  // The trace of the latest message this workflow received (one closure per workflow).
  let latest: Headers[string] | undefined;
  const remember = (headers: Headers) => {
    if (headers[TRACE_HEADER]) latest = headers[TRACE_HEADER];
  };
  const withTrace = <T extends ActivityInput | LocalActivityInput>(input: T): T =>
    latest === undefined || input.headers[TRACE_HEADER]
      ? input
      : { ...input, headers: { ...input.headers, [TRACE_HEADER]: latest } };

  const inbound: WorkflowInboundCallsInterceptor = {
    execute: (input, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) => {
      remember(input.headers);
      return next(input);
    },
    handleUpdate: (input, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>) => {
      remember(input.headers);
      return next(input);
    },
    handleSignal: (input, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) => {
      remember(input.headers);
      return next(input);
    },
  };
  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) =>
      next(withTrace(input)),
    scheduleLocalActivity: (
      input,
      next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
    ) => next(withTrace(input)),
  };
  return { inbound: [inbound], outbound: [outbound] };
};
