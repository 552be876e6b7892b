/**
 * CI smoke run of `npm run bench -- scale`: a tiny fill (2,000 then 20,000 events, a 2,000-event
 * bus topic) that checks the harness fills, measures in its child processes, prints every row for
 * both sizes, removes its data directory and leaves `git status` as it was. It does not judge any
 * figure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTool } from '@herald/test-support';
import { BENCH_RUN, gitStatus, watchTemporaryEntries } from './smoke-support.ts';

/** Fill, three child processes per size, on a loaded 2-core machine. */
const RUN_TIMEOUT_MS = 180_000;

test('bench scale prints every measure for each size and removes its data', {
  timeout: RUN_TIMEOUT_MS + 20_000,
}, async () => {
  const statusBefore = gitStatus();
  const leftoverDirectories = watchTemporaryEntries('herald-bench-scale-');
  const { code, stdout, stderr } = await runTool(
    process.execPath,
    [BENCH_RUN, 'scale', '--events', '2000,20000', '--bus-events', '2000'],
    { timeoutMs: RUN_TIMEOUT_MS },
  );
  assert.equal(code, 0, `exit code ${code}\n${stderr.slice(-2000)}`);
  assert.match(stderr, /scale \[/, 'a progress bar on stderr');
  assert.match(stdout, /### Scale: 100 topics × 4 partitions, 100-byte events/);
  assert.match(stdout, /load average [\d.]+ \/ [\d.]+ \/ [\d.]+/);
  assert.match(stdout, /\| measure \| 2,000 events \| 20,000 events \| growth \| target \|/);
  for (const measure of [
    'open, clean (ms)',
    'RSS after open (MiB)',
    'descriptors after open',
    'recovery, no checkpoint or index (ms)',
    'catch-up, transport (messages/s)',
    'catch-up, bus (messages/s)',
  ]) {
    const row = stdout.split('\n').find((line) => line.startsWith(`| ${measure} |`));
    assert.ok(row !== undefined, `missing row "${measure}"`);
    const cells = row.split('|').map((cell) => cell.trim());
    // Both sizes measured: a number in each column (NaN would mean a child reported nothing).
    assert.match(cells[2]!, /^[\d,.]+$/, `${measure}: ${row}`);
    assert.match(cells[3]!, /^[\d,.]+$/, `${measure}: ${row}`);
  }
  assert.deepEqual(leftoverDirectories(), [], 'the data directory is removed');
  assert.equal(gitStatus(), statusBefore, 'a benchmark run changed the working tree');
});
