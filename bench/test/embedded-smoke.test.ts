/**
 * CI smoke run of `npm run bench -- embedded --quick` (1 s per row): checks the harness measures
 * every layer's rows and the open-loop rows, prints each issue-16 target beside its row with a
 * verdict, removes its data directories and leaves `git status` as it was. It does not judge any
 * figure: a target printed as NOT met passes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTool } from '@herald/test-support';
import { BENCH_RUN, gitStatus, watchTemporaryEntries } from './smoke-support.ts';

/** 16 rows of 1 s, their drains and a fresh broker each, on a loaded 2-core machine. */
const RUN_TIMEOUT_MS = 180_000;

/** The cells of the table line that starts with `| name |`, trimmed; fails when it is missing. */
function rowCells(stdout: string, name: string): string[] {
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(`| ${name} |`));
  assert.ok(line !== undefined, `missing row "${name}"\n${stdout}`);
  return line.split('|').map((cell) => cell.trim());
}

test('bench embedded --quick prints every row and target and leaves nothing behind', {
  timeout: RUN_TIMEOUT_MS + 20_000,
}, async () => {
  const statusBefore = gitStatus();
  const leftoverDirectories = watchTemporaryEntries('herald-embedded-bench-');
  const { code, stdout, stderr } = await runTool(process.execPath, [BENCH_RUN, 'embedded', '--quick'], {
    timeoutMs: RUN_TIMEOUT_MS,
  });
  assert.equal(code, 0, `exit code ${code}\n${stderr.slice(-2000)}`);
  const throughputRows: [name: string, target: RegExp | undefined][] = [
    ['log (1 partition): append, 1 publisher, 1 record per append', undefined],
    [
      'log (1 partition): append, 256 publishers, 1 record per append',
      /of P × syncs\/s .*≥ 60%: (met|\*\*NOT met\*\*)/,
    ],
    ['transport: publish, 256 publishers, 1 message per call', /≥ 80% of log: (met|\*\*NOT met\*\*)/],
    ['transport: publish, 256 publishers, 100 messages per call', undefined],
    ['transport: publish + consume + ack, 256 publishers', undefined],
    ['bus: publish, 256 publishers, 1 message per call', /≥ 80% of transport: (met|\*\*NOT met\*\*)/],
    ['bus: publish + consume + ack, 256 publishers', undefined],
    [
      'bus + idempotency: publish + consume + ack, 256 publishers',
      /≥ 70% of transport: (met|\*\*NOT met\*\*)/,
    ],
  ];
  for (const [name, target] of throughputRows) {
    const cells = rowCells(stdout, name);
    // messages and messages/s: numbers (NaN or an empty cell would mean the row measured nothing).
    assert.match(cells[2]!, /^[\d,]+$/, `${name}: ${cells.join(' | ')}`);
    assert.match(cells[3]!, /^[\d,]+$/, `${name}: ${cells.join(' | ')}`);
    if (target !== undefined) assert.match(cells[5]!, target, `${name}: ${cells.join(' | ')}`);
  }
  assert.match(
    rowCells(stdout, 'transport: publish, 256 publishers, 1 message per call')[4]!,
    /^[\d.]+% of log$/,
  );
  assert.match(
    rowCells(stdout, 'bus: publish, 256 publishers, 1 message per call')[4]!,
    /^[\d.]+% of transport$/,
  );
  for (const [name, target] of [
    ['bus: end to end at 10,000 events/s (open loop)', undefined],
    ['bus + idempotency: end to end at 10,000 events/s (open loop)', /p99 ≤ 10 ms: (met|\*\*NOT met\*\*)/],
    ['bus + idempotency: end to end at 50,000 events/s (open loop)', /kept up: (met|\*\*NOT met\*\*)/],
  ] as const) {
    const cells = rowCells(stdout, name);
    // delivered, achieved events/s, p50 and p99: numbers; kept up: a verdict.
    for (const cell of cells.slice(2, 6)) assert.match(cell, /^[\d,.]+$/, `${name}: ${cells.join(' | ')}`);
    assert.match(cells[6]!, /^(yes|\*\*NO\*\*)$/, `${name}: ${cells.join(' | ')}`);
    if (target !== undefined) assert.match(cells[7]!, target, `${name}: ${cells.join(' | ')}`);
  }
  assert.deepEqual(leftoverDirectories(), [], 'the data directories are removed');
  assert.equal(gitStatus(), statusBefore, 'a benchmark run changed the working tree');
});
