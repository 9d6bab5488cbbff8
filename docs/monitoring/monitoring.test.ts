import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
// Every module that defines metrics, so the registry holds them all.
import '../../activities/metrics';
import '../../api/metrics/http';
import '../../api/metrics/read-model';
import '../../api/metrics/socket';
import '../../mcp/metrics';
import { registry } from '../../platform/metrics';

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const rules = (
  parse(readFileSync(path.join(__dirname, 'aiworker-alerts.yaml'), 'utf8')) as {
    groups: Array<{ name: string; rules: Rule[] }>;
  }
).groups.flatMap((g) => g.rules);

const dashboard = JSON.parse(
  readFileSync(path.join(__dirname, 'aiworker-dashboard.json'), 'utf8'),
) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };

const expressions = [
  ...rules.map((r) => r.expr),
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
];
const used = new Set(
  expressions.flatMap((e) => e.match(/\b(?:aiworker|temporal|process|nodejs)_\w+/g) ?? []),
);

/** Names a metric is written under: a histogram's or summary's series have suffixes. */
const SERIES: Record<string, string[]> = {
  histogram: ['_bucket', '_count', '_sum'],
  summary: ['', '_count', '_sum'],
};

describe('docs/monitoring (dashboard and alert rules)', () => {
  it('holds alert rules with an expression, a wait, a severity and words for the one paged', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'AiworkerApiErrors',
      'AiworkerPreviewDeploysFailing',
      'AiworkerQuestionWaiting',
      'AiworkerTasksStuck',
      'AiworkerWorkflowTaskFailures',
      'AiworkerWorkflowTasksWaiting',
    ]);
    for (const rule of rules) {
      expect(rule.expr.trim()).not.toBe('');
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(['info', 'warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
    }
  });

  it("uses only aiworker's metrics and the process metrics that the code registers", async () => {
    const registered = (await registry.getMetricsAsJSON()).flatMap((m) =>
      (SERIES[m.type] ?? ['']).map((suffix) => `${m.name}${suffix}`),
    );
    const ours = [...used].filter((name) => !name.startsWith('temporal_'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((name) => !registered.includes(name))).toEqual([]);
  });

  it("uses only metrics the installed Temporal SDK core emits (with the worker's options)", () => {
    // The core creates its metrics on first use, so a quiet worker's scrape lacks the failure
    // counters; their names are looked up in the core's native library instead.
    const releases = path.join(
      path.dirname(require.resolve('@temporalio/core-bridge/package.json')),
      'releases',
    );
    const library = readdirSync(releases)
      .map((target) => path.join(releases, target, 'index.node'))
      .find((file) => existsSync(file))!;
    const core = readFileSync(library, 'latin1');
    const temporal = [...used].filter((name) => name.startsWith('temporal_'));
    expect(temporal).toEqual(
      expect.arrayContaining([
        'temporal_workflow_task_schedule_to_start_latency_seconds_bucket',
        'temporal_sticky_cache_size',
      ]),
    );
    const unknown = temporal.filter((name) => {
      // `temporal_` prefix; `_total` on counters and `_seconds` on durations (worker/main.ts).
      const base = name
        .replace(/^temporal_/, '')
        .replace(/_(bucket|count|sum)$/, '')
        .replace(/_(total|seconds)$/, '');
      return !core.includes(base);
    });
    expect(unknown).toEqual([]);
  });
});
