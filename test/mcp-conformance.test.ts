import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../platform/config';
import { startTestApi } from './support/api';
import type { TestApi } from './support/api';
import { apiClient, createProject, registerAgent } from './support/http';
import { startTestWorker, uniqueTaskQueue } from './support/worker';

/** Node.js 22 and the pinned suite and Inspector (scripts/mcp-check), installed by set-up. */
const NODE_BIN = path.join(REPO_ROOT, '.tools', 'node', 'run');
const CHECK_DIR = path.join(REPO_ROOT, '.tools', 'mcp-check', 'node_modules');
const CONFORMANCE = path.join(
  CHECK_DIR,
  '@modelcontextprotocol',
  'conformance',
  'dist',
  'index.js',
);
const INSPECTOR = path.join(CHECK_DIR, '.bin', 'mcp-inspector');
const STDIO_BIN = path.join(REPO_ROOT, 'bin', 'aiworker-mcp');

/**
 * The suite's server scenarios that apply to this server's declared capabilities (tools,
 * resources, prompts, completions, logging; stateless Streamable HTTP): each must pass.
 */
const APPLICABLE = [
  'server-initialize',
  'ping',
  'logging-set-level',
  'tools-list',
  'resources-list',
  'prompts-list',
  'dns-rebinding-protection',
  // Stateless (no session id): the scenario ends with a warning that says so.
  'server-sse-multiple-streams',
];

/**
 * Scenarios written for the suite's own test server: they call tools, resources and prompts by
 * its names (`test_simple_text`, `test://static-text`, `test_prompt_with_arguments`, ...), or need
 * what this server deliberately does not offer (sampling, elicitation, subscriptions, sessions
 * with resumable streams). README, "Connecting an agent", lists them with the reasons.
 */
const NOT_APPLICABLE = [
  'completion-complete',
  'tools-call-simple-text',
  'tools-call-image',
  'tools-call-audio',
  'tools-call-embedded-resource',
  'tools-call-mixed-content',
  'tools-call-with-logging',
  'tools-call-error',
  'tools-call-with-progress',
  'tools-call-sampling',
  'tools-call-elicitation',
  'json-schema-2020-12',
  'elicitation-sep1034-defaults',
  'elicitation-sep1330-enums',
  'server-sse-polling',
  'resources-read-text',
  'resources-read-binary',
  'resources-templates-read',
  'resources-subscribe',
  'resources-unsubscribe',
  'prompts-get-simple',
  'prompts-get-with-args',
  'prompts-get-embedded-resource',
  'prompts-get-with-image',
];

/** Runs a command of the Node.js 22 tools; resolves with its exit code and output. */
function run(
  args: string[],
  timeoutMs = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(NODE_BIN, 'node'),
      args,
      {
        env: { PATH: `${NODE_BIN}:${process.env.PATH}`, HOME: os.tmpdir() },
        timeout: timeoutMs,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

/**
 * A pass-through to the API that adds the agent's token (the suite has no way to send one) and
 * changes nothing else: Host and Origin reach the API as the suite sent them.
 */
function tokenProxy(to: { url?: URL; token?: string }): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      {
        host: to.url!.hostname,
        port: to.url!.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, authorization: `Bearer ${to.token}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe("MCP's conformance suite and Inspector against /mcp", () => {
  const taskQueue = uniqueTaskQueue('conformance');
  let worker: { stop(): Promise<void> };
  let api: TestApi;
  let proxy: http.Server;
  let token: string;
  let proxied: string;

  beforeAll(async () => {
    if (!existsSync(CONFORMANCE) || !existsSync(INSPECTOR)) {
      throw new Error(
        `MCP's conformance suite is not installed in ${CHECK_DIR}: run npm run setup (it installs Node.js 22 and the suite into .tools/)`,
      );
    }
    // The API allows the proxy's host (and Origin), which the suite names in its requests.
    const target: { url?: URL; token?: string } = {};
    proxy = await tokenProxy(target);
    const proxyPort = (proxy.address() as AddressInfo).port;
    worker = await startTestWorker({ taskQueue });
    api = await startTestApi({
      taskQueue,
      mcpAllowedHosts: [`localhost:${proxyPort}`, '127.0.0.1'],
    });
    const board = apiClient(api.url, api.adminToken);
    const projectId = (await createProject(board, { name: `conformance-${randomUUID()}` })).id;
    token = (await registerAgent(board, { name: 'conformance', projectIds: [projectId] })).token;
    target.url = new URL(api.url);
    target.token = token;
    proxied = `http://localhost:${proxyPort}/mcp`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((resolve) => proxy.close(resolve));
    await api.close();
    await worker.stop();
  });

  it('passes every scenario that applies to the capabilities it declares', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'aiworker-conformance-'));
    const { stdout, stderr } = await run(
      [CONFORMANCE, 'server', '--url', proxied, '--suite', 'all', '-o', out],
      180_000,
    );
    const results = new Map<string, Array<{ id: string; status: string; errorMessage?: string }>>();
    for (const dir of readdirSync(out)) {
      const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T.*$/.exec(dir)?.[1];
      if (!scenario) continue;
      results.set(scenario, JSON.parse(readFileSync(path.join(out, dir, 'checks.json'), 'utf8')));
    }
    // Every scenario of this version of the suite is accounted for, one way or the other.
    expect([...results.keys()].sort()).toEqual([...APPLICABLE, ...NOT_APPLICABLE].sort());
    const failures = APPLICABLE.flatMap((scenario) =>
      results
        .get(scenario)!
        .filter((check) => check.status === 'FAILURE')
        .map((check) => `${scenario} / ${check.id}: ${check.errorMessage ?? ''}`),
    );
    if (failures.length > 0) throw new Error(`${failures.join('\n')}\n${stdout}\n${stderr}`);
    for (const scenario of APPLICABLE.filter((s) => s !== 'server-sse-multiple-streams')) {
      expect(results.get(scenario)!.some((check) => check.status === 'SUCCESS')).toBe(true);
    }
  }, 240_000);

  it('lists tools, resources, resource templates and prompts in the Inspector, over HTTP and stdio', async () => {
    const listed = async (method: string, before: string[], after: string[]) => {
      const args = [
        INSPECTOR,
        '--cli',
        ...before,
        '--format',
        'json',
        '--method',
        method,
        ...after,
      ];
      const { code, stdout, stderr } = await run(args);
      if (code !== 0) throw new Error(`inspector ${method} exited ${code}: ${stdout}${stderr}`);
      return JSON.parse(stdout).result;
    };
    const overHttp = [
      `${api.url}/mcp`,
      '--transport',
      'http',
      '--header',
      `Authorization: Bearer ${token}`,
    ];
    // The relay gets what an agent's MCP configuration would give it: the API and the token.
    const overStdio = ['-e', `AIWORKER_URL=${api.url}`, '-e', `AIWORKER_AGENT_TOKEN=${token}`];
    for (const [before, after] of [
      [overHttp, []],
      [overStdio, ['--', STDIO_BIN]],
    ]) {
      const tools = await listed('tools/list', before!, after!);
      expect(tools.tools.map((t: { name: string }) => t.name)).toContain('get_next_task');
      const templates = await listed('resources/templates/list', before!, after!);
      expect(templates.resourceTemplates).toEqual([
        expect.objectContaining({ uriTemplate: 'aiworker://tasks/{id}' }),
      ]);
      expect((await listed('resources/list', before!, after!)).resources).toEqual([]);
      const prompts = await listed('prompts/list', before!, after!);
      expect(prompts.prompts.map((p: { name: string }) => p.name)).toEqual(['work_on_task']);
    }
  }, 120_000);
});
