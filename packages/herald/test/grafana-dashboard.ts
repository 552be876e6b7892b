/**
 * Reads docs/grafana/herald-dashboard.json and checks it against a scraped `/metrics`: every panel
 * query parses as PromQL (the Prometheus project's own Lezer grammar) and every metric and label
 * it selects is one the endpoint serves.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { PrometheusFamily } from '@herald/test-support';
import { parser } from '@prometheus-io/lezer-promql';

/** The dashboard shipped in docs/. */
export const DASHBOARD_PATH = new URL('../../../docs/grafana/herald-dashboard.json', import.meta.url);

interface Panel {
  readonly title?: string;
  readonly type?: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly Panel[];
}

/** Every PromQL expression of the dashboard's panels, with its panel's title. */
export function dashboardQueries(): { title: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as { panels: readonly Panel[] };
  const queries: { title: string; expr: string }[] = [];
  const visit = (panel: Panel) => {
    for (const target of panel.targets ?? []) {
      if (target.expr !== undefined) queries.push({ title: panel.title ?? '?', expr: target.expr });
    }
    for (const inner of panel.panels ?? []) visit(inner);
  };
  for (const panel of dashboard.panels) visit(panel);
  return queries;
}

/** Metrics named in the dashboard's template variables (`label_values(metric, label)`). */
export function dashboardVariableMetrics(): { metric: string; label: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as {
    templating: { list: readonly { query?: string | { query?: string } }[] };
  };
  return dashboard.templating.list.flatMap((variable) => {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const match = query === undefined ? null : /^label_values\((\w+),\s*(\w+)\)$/.exec(query);
    return match === null ? [] : [{ metric: match[1]!, label: match[2]! }];
  });
}

/** The family serving sample name `name` (a counter's `_total`, a histogram's `_bucket`...). */
function familyOf(families: readonly PrometheusFamily[], name: string): PrometheusFamily | undefined {
  return families.find(
    (family) =>
      family.name === name ||
      ['_total', '_bucket', '_sum', '_count'].some((suffix) => `${family.name}${suffix}` === name),
  );
}

/** Label names the samples of `family` named `name` carry (empty when it has no samples yet). */
function labelsOf(family: PrometheusFamily, name: string): Set<string> | undefined {
  const samples = family.samples.filter((sample) => sample.name === name);
  if (samples.length === 0) return undefined;
  return new Set(samples.flatMap((sample) => Object.keys(sample.labels)));
}

/** Asserts every query of the dashboard parses and names served metrics and labels. */
export function checkDashboard(families: readonly PrometheusFamily[]): number {
  const queries = dashboardQueries();
  assert.ok(queries.length > 0, 'the dashboard has queries');
  for (const { title, expr } of queries) {
    // Grafana's interval variables are not PromQL; a duration stands in for them.
    const promql = expr.replaceAll('$__rate_interval', '1m');
    const tree = parser.parse(promql);
    const metrics: string[] = [];
    tree.iterate({
      enter(node) {
        assert.ok(!node.type.isError, `panel "${title}": ${expr} does not parse at ${node.from}`);
        if (node.name !== 'VectorSelector') return;
        const identifier = node.node.getChild('Identifier');
        assert.ok(identifier !== null, `panel "${title}": a selector without a metric name in ${expr}`);
        const name = promql.slice(identifier.from, identifier.to);
        metrics.push(name);
        const family = familyOf(families, name);
        assert.ok(family !== undefined, `panel "${title}": ${name} is not served by /metrics`);
        const served = labelsOf(family, name);
        const matchers = node.node.getChild('LabelMatchers');
        if (served === undefined || matchers === null) return;
        for (const matcher of matchers.getChildren('UnquotedLabelMatcher')) {
          const label = matcher.getChild('LabelName');
          const labelName = label === null ? '' : promql.slice(label.from, label.to);
          assert.ok(served.has(labelName), `panel "${title}": ${name} has no label "${labelName}"`);
        }
      },
    });
    assert.ok(metrics.length > 0, `panel "${title}": ${expr} names no metric`);
  }
  for (const { metric, label } of dashboardVariableMetrics()) {
    const family = familyOf(families, metric);
    assert.ok(family !== undefined, `variable: ${metric} is not served by /metrics`);
    assert.ok(labelsOf(family, metric)?.has(label), `variable: ${metric} has no label "${label}"`);
  }
  return queries.length;
}
