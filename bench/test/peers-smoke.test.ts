/**
 * CI smoke run of `npm run bench -- peers`: a minimal mode (200 messages per row, 100-byte
 * payloads) that checks the harness prints every table and writes its JSON and SVG charts, and
 * that a run into the default results folder leaves `git status` as it was. It does not judge any
 * figure: a row that failed or a peer that was skipped still passes, as long as the report says so.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runTool, type ToolResult } from '@herald/test-support';

const RUN = path.join(import.meta.dirname, '..', 'run.ts');
const ROOT = path.join(import.meta.dirname, '..', '..');

/** `git status --porcelain` of the working tree (untracked files included, ignored ones not). */
function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/** Runs `npm run bench -- <args>` (killed after 140 s, inside the test's 150 s; then `code` is null). */
function runBench(args: readonly string[]): Promise<ToolResult> {
  return runTool(process.execPath, [RUN, ...args], { timeoutMs: 140_000 });
}

test('bench peers --quick prints every table and writes JSON and SVG charts', {
  timeout: 150_000,
}, async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'herald-peers-smoke-'));
  const statusBefore = gitStatus();
  try {
    const { code, stdout, stderr } = await runBench([
      'peers',
      '--quick',
      '--messages',
      '200',
      '--payload',
      '100',
      '--out',
      out,
    ]);
    assert.equal(code, 0, `exit code ${code}\n${stderr.slice(-2000)}`);
    assert.match(stderr, /peers \[/, 'a progress bar on stderr');
    for (const heading of [
      '### Limits (measured first)',
      '### Systems and durability classes',
      '### Headline (100 B)',
      '#### Produce-only throughput',
      '#### End-to-end throughput',
      '#### Ack latency, 1 outstanding publish',
      '#### Ack latency, 64 outstanding publishes',
      '#### End-to-end latency at 1,000 events/s',
      '#### End-to-end latency at 10,000 events/s',
      '#### End-to-end latency at 50,000 events/s',
      '#### Fan-out to 3 groups',
      '#### 4-partition topic, 2 consumers',
    ]) {
      assert.ok(stdout.includes(heading), `missing "${heading}"`);
    }
    assert.match(stdout, /\| Herald embedded \(transport\) \| fsync \|/);
    assert.match(stdout, /Goals \(100 B/);

    const report = JSON.parse(readFileSync(path.join(out, 'peers.json'), 'utf8')) as {
      systems: { id: string }[];
      skipped: { id: string; reason: string }[];
      measurements: { system: string; scenario: string }[];
      limits: { batchedRecordsPerSecond: number };
    };
    assert.ok(report.limits.batchedRecordsPerSecond > 0);
    // Every system either ran every scenario or was skipped with a reason.
    const ids = [...report.systems.map((system) => system.id), ...report.skipped.map((skip) => skip.id)];
    for (const id of [
      'herald-embedded',
      'herald-embedded-batch',
      'herald-bus',
      'herald-serve',
      'herald-kafka',
      'apache-kafka',
      'apache-kafka-fsync',
      'herald-kafka-apache',
      'herald-rabbitmq',
      'rabbitmq-quorum',
      'rabbitmq-classic',
      'rabbitmq-stream',
      'nats-jetstream',
      'redis-streams',
    ]) {
      assert.ok(ids.includes(id), `${id} neither measured nor skipped`);
    }
    for (const skip of report.skipped) assert.ok(skip.reason.length > 0);
    for (const system of report.systems) {
      const rows = report.measurements.filter((row) => row.system === system.id).length;
      assert.equal(rows, system.id === 'herald-embedded-batch' ? 1 : 9, `${system.id}: ${rows} rows`);
    }
    for (const chart of ['peers-produce-100.svg', 'peers-ack-latency-100.svg', 'peers-end-to-end-100.svg']) {
      const file = path.join(out, chart);
      assert.ok(existsSync(file), `${chart} written`);
      assert.match(readFileSync(file, 'utf8'), /^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }

    // --json prints the same report as JSON on stdout. No --out: it writes into the default
    // results folder, which is git-ignored, and says so on stderr.
    const json = await runBench([
      'peers',
      '--quick',
      '--json',
      '--messages',
      '50',
      '--payload',
      '100',
      '--systems',
      'herald-embedded',
    ]);
    assert.equal(json.code, 0, json.stderr.slice(-2000));
    const parsed = JSON.parse(json.stdout) as { suite: string; measurements: unknown[] };
    assert.equal(parsed.suite, 'peers');
    assert.equal(parsed.measurements.length, 9);
    assert.match(json.stderr, /peers: results written to \S*bench\/results\/peers\.json/);
    assert.equal(gitStatus(), statusBefore, 'a benchmark run changed the working tree');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
