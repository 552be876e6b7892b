/**
 * CI smoke run of `npm run bench -- peers`: a minimal mode (200 messages per row, 100-byte
 * payloads) that checks the harness prints every table and writes its JSON and SVG charts, and
 * that a run into the default results folder leaves `git status` as it was. It does not judge any
 * figure: a row that failed or a peer that was skipped still passes, as long as the report says so.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runTool, type ToolResult } from '@herald/test-support';
import { BENCH_RUN, gitStatus } from './smoke-support.ts';

/**
 * Longest run of every row: Apache Kafka's start-up and warm-up, and the Herald-on-AWS row, whose
 * emulator serves tens of messages a second (about a minute of its own with 200 messages a row).
 */
const ALL_ROWS_TIMEOUT_MS = 240_000;
/** Longest run of the one-row `--json` run. */
const ONE_ROW_TIMEOUT_MS = 60_000;

/** Runs `npm run bench -- <args>`, killed after `timeoutMs` (then `code` is null). */
function runBench(args: readonly string[], timeoutMs: number): Promise<ToolResult> {
  return runTool(process.execPath, [BENCH_RUN, ...args], { timeoutMs });
}

test('bench peers --quick prints every table and writes JSON and SVG charts', {
  // Both runs, plus 20 s for the checks and the temporary directory.
  timeout: ALL_ROWS_TIMEOUT_MS + ONE_ROW_TIMEOUT_MS + 20_000,
}, async () => {
  const out = await mkdtemp(path.join(tmpdir(), 'herald-peers-smoke-'));
  const statusBefore = gitStatus();
  try {
    const { code, stdout, stderr } = await runBench(
      ['peers', '--quick', '--messages', '200', '--payload', '100', '--out', out],
      ALL_ROWS_TIMEOUT_MS,
    );
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
      systems: { id: string; label: string; rawPeer?: string; emulator?: string }[];
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
      'herald-nats',
      'redis-streams',
      'herald-redis',
      'herald-aws',
    ]) {
      assert.ok(ids.includes(id), `${id} neither measured nor skipped`);
    }
    for (const skip of report.skipped) assert.ok(skip.reason.length > 0);
    // The batch row runs produce-only; the emulator row leaves out the 10k and 50k events/s rates.
    const scenarioCounts: Record<string, number> = { 'herald-embedded-batch': 1, 'herald-aws': 7 };
    for (const system of report.systems) {
      const rows = report.measurements.filter((row) => row.system === system.id).length;
      assert.equal(rows, scenarioCounts[system.id] ?? 9, `${system.id}: ${rows} rows`);
    }
    // A Herald row that ran beside its raw client gets a line in the overhead tables; an emulated
    // row stays out of the headline.
    const labels = new Map(report.systems.map((system) => [system.id, system.label]));
    for (const system of report.systems) {
      const raw = system.rawPeer === undefined ? undefined : labels.get(system.rawPeer);
      if (raw !== undefined) {
        assert.ok(stdout.includes('### Herald transports ÷ their raw clients (same server)'));
        assert.ok(
          stdout.includes(`| ${system.label} | ${raw} |`),
          `${system.id}: no line in the overhead table`,
        );
      }
      if (system.emulator !== undefined) assert.match(stdout, /Not in the headline \(emulated/);
    }
    for (const chart of ['peers-produce-100.svg', 'peers-ack-latency-100.svg', 'peers-end-to-end-100.svg']) {
      const file = path.join(out, chart);
      assert.ok(existsSync(file), `${chart} written`);
      assert.match(readFileSync(file, 'utf8'), /^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }

    // --json prints the same report as JSON on stdout. No --out: it writes into the default
    // results folder, which is git-ignored, and says so on stderr.
    const json = await runBench(
      ['peers', '--quick', '--json', '--messages', '50', '--payload', '100', '--systems', 'herald-embedded'],
      ONE_ROW_TIMEOUT_MS,
    );
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
