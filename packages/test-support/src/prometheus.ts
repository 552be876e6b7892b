/**
 * Prometheus text parsed by the Prometheus project's own Python client
 * (`prometheus_client.parser`, from PyPI into the virtualenv `npm run setup` builds), so tests
 * check `/metrics` against a real parser rather than one written alongside the exporter.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { runTool } from './child.ts';

/** One sample of a parsed exposition. */
export interface PrometheusSample {
  /** The sample's name (`_bucket`, `_sum`, `_count`, `_total` included). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family of a parsed exposition. */
export interface PrometheusFamily {
  /** The family's name (for a counter, without `_total`, as the parser reports it). */
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: readonly PrometheusSample[];
}

const PARSER = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
def number(v):
    return None if math.isnan(v) else (str(v) if math.isinf(v) else v)
families = [
    {"name": f.name, "type": f.type, "help": f.documentation,
     "samples": [{"name": s.name, "labels": s.labels, "value": number(s.value)} for s in f.samples]}
    for f in text_string_to_metric_families(sys.stdin.read())
]
json.dump(families, sys.stdout)
`;

/** The virtualenv Python (`HERALD_PYTHON_DIR`, default `~/.cache/herald/python`). */
export function setupPython(): string {
  const python = path.join(
    process.env.HERALD_PYTHON_DIR ?? path.join(homedir(), '.cache', 'herald', 'python'),
    'bin',
    'python',
  );
  assert.ok(existsSync(python), `no Python virtualenv at ${python}: run npm run setup`);
  return python;
}

/** Parses Prometheus text exposition; rejects with the parser's error when it is not valid. */
export async function parsePrometheusText(text: string): Promise<PrometheusFamily[]> {
  const result = await runTool(setupPython(), ['-c', PARSER], { input: text, timeoutMs: 30_000 });
  assert.equal(result.code, 0, `prometheus_client.parser rejected the exposition:\n${result.stderr}`);
  return JSON.parse(result.stdout) as PrometheusFamily[];
}

/** Fetches `url` and parses it; asserts a 200 with Prometheus's text content type. */
export async function scrapePrometheus(url: string): Promise<PrometheusFamily[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, `GET ${url}`);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

/** The samples named `name` whose labels include `labels`. */
export function samplesOf(
  families: readonly PrometheusFamily[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): PrometheusSample[] {
  return families
    .flatMap((family) => family.samples)
    .filter(
      (sample) =>
        sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
}
