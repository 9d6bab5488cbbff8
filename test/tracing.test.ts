import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTracing } from '../platform/tracing';
import type { Tracing } from '../platform/tracing';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject } from './support/http';
import { untilProjected } from './support/projected';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

interface OtlpBody {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, 'service'>> }>;
  }>;
}

/** An OTLP/HTTP receiver (JSON, as the exporter sends by default) keeping every span it gets. */
async function otlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; server: Server }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as OtlpBody;
        for (const { resource, scopeSpans } of body.resourceSpans) {
          const service =
            resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const scope of scopeSpans)
            for (const span of scope.spans) spans.push({ ...span, service });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, server };
}

/**
 * With OTEL_EXPORTER_OTLP_ENDPOINT set, one `POST /api/tasks` is one trace: the HTTP request's
 * span, the Temporal client's, and the activities the task workflow ran for it, exported over OTLP.
 */
describe('traces', () => {
  const taskQueue = uniqueTaskQueue('tracing');
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let tracing: Tracing;
  let worker: { stop(): Promise<void> };
  let api: TestApi;

  beforeAll(async () => {
    receiver = await otlpReceiver();
    tracing = startTracing({ otlpEndpoint: receiver.url }, 'aiworker-test');
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({ taskQueue });
  });
  afterAll(async () => {
    await api.close();
    await worker.stop();
    await tracing.shutdown();
    receiver.server.close();
  });

  it('follows a task creation from the HTTP request through the workflow to its activity', async () => {
    const http = apiClient(api.url, api.adminToken);
    const projectId = (await createProject(http, { name: `traced-${randomUUID()}` })).id;
    const created = await http.post('/api/tasks', { projectId, title: 'traced', description: '' });
    expect(created.status).toBe(201);
    // The answer comes before the workflow's first workflow task, which schedules the activity
    // that projects the task; that activity's span is exported once the activity has ended.
    await untilProjected(api.deps.db, [created.body.taskId]);
    const request = () => receiver.spans.find((s) => s.name === 'POST /api/tasks');
    const traced = () => receiver.spans.filter((s) => s.traceId === request()?.traceId);
    const deadline = Date.now() + 30_000;
    await tracing.flush();
    while (!traced().some((s) => s.name === 'RunActivity:projectTaskChange')) {
      if (Date.now() > deadline) {
        throw new Error(
          `no projection activity in the trace: ${traced()
            .map((s) => s.name)
            .join(', ')}`,
        );
      }
      await sleep(100);
      await tracing.flush();
    }

    expect(request()).toBeDefined();
    const trace = traced();
    const names = trace.map((s) => s.name);
    // The Temporal client's call, and on the worker the activity that projected the new task,
    // which the workflow scheduled on the client call's trace.
    const client = trace.find((s) => s.name === 'StartWorkflow:taskWorkflow');
    expect(client?.parentSpanId).toBe(request()!.spanId);
    const activity = trace.find((s) => s.name === 'RunActivity:projectTaskChange');
    expect(activity?.parentSpanId).toBe(client!.spanId);
    expect(names.filter((n) => n.startsWith('RunActivity:')).length).toBeGreaterThan(0);
  });
});
