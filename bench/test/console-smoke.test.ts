/**
 * CI smoke run of `npm run bench -- console --quick`: a 20,000-event fill, the console opened on
 * it as `herald console --data` opens it, every view's first paint measured in Debian's Chromium
 * and a search that reads every event to its end with progress shown. Checks that each row is
 * printed with a number and that the data directory is removed; it does not judge the figures
 * (the 1 M run does, against the 1 s target: docs/benchmarks.md).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { runTool } from '@herald/test-support';
import { BENCH_RUN, watchTemporaryEntries } from './smoke-support.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Fill, browser start and three rounds of page loads on a loaded 2-core machine. */
const RUN_TIMEOUT_MS = 180_000;

test('bench console prints every view and the search, and removes its data', {
  timeout: RUN_TIMEOUT_MS + 20_000,
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: run scripts/setup.sh`,
}, async () => {
  const leftoverDirectories = watchTemporaryEntries('herald-bench-console-');
  const { code, stdout, stderr } = await runTool(process.execPath, [BENCH_RUN, 'console', '--quick'], {
    timeoutMs: RUN_TIMEOUT_MS,
  });
  assert.equal(code, 0, `exit code ${code}\n${stderr.slice(-2000)}`);
  assert.match(stdout, /### Console over 20,000 retained events/);
  assert.match(stdout, /load average [\d.]+ \/ [\d.]+ \/ [\d.]+/);
  for (const measure of [
    'first paint: topology',
    'first paint: topics',
    "a topic's messages (Browse → 50 rows)",
    'first paint: groups',
    'first paint: dead letters',
    'first paint: trace',
    'first paint: search',
    'trace of one order (Trace → its steps)',
    'search: first progress shown',
    'search: done',
    "search for one customer's events: done",
  ]) {
    const row = stdout.split('\n').find((line) => line.startsWith(`| ${measure} |`));
    assert.ok(row !== undefined, `missing row "${measure}"`);
    assert.match(row.split('|')[2]!.trim(), /^[\d,]+$/, row);
  }
  // The search read every event (20,000 and the 200 dead letters) and said so.
  assert.match(
    stdout,
    /search: 20,200 events scanned, stopped by end, [\d,]+ events\/s, \d+ progress updates shown/,
  );
  assert.match(
    stdout,
    /search for "customerId":"c-42" \(limit 1,000\): [\d,]+ events scanned, stopped by end/,
  );
  assert.deepEqual(leftoverDirectories(), [], 'the data directory is removed');
});
