/** kcat's `-o` values in-process, `s@` and `e@` included. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../src/errors.ts';
import { parseOffsetOptions, parsePosition } from '../src/positions.ts';

test('positions - kcat -o values', () => {
  assert.deepEqual(parsePosition('beginning', '-o'), { kind: 'beginning' });
  assert.deepEqual(parsePosition('end', '-o'), { kind: 'end' });
  assert.deepEqual(parsePosition('42', '-o'), { kind: 'offset', offset: 42n });
  assert.deepEqual(parsePosition('-5', '-o'), { kind: 'fromEnd', count: 5n });
  assert.deepEqual(parsePosition('s@1700000000000', '-o'), { kind: 'time', timestampMs: 1_700_000_000_000 });
  assert.deepEqual(parsePosition('@2023-11-14T22:13:20Z', '-o'), {
    kind: 'time',
    timestampMs: 1_700_000_000_000,
  });
  assert.throws(() => parsePosition('sideways', '-o'), UsageError);
});

test('positions - -o s@ and e@ together; the last start wins, as in kcat', () => {
  assert.deepEqual(parseOffsetOptions([], '-o'), { start: { kind: 'beginning' }, endTimestampMs: undefined });
  assert.deepEqual(parseOffsetOptions(['s@10', 'e@20'], '-o'), {
    start: { kind: 'time', timestampMs: 10 },
    endTimestampMs: 20,
  });
  assert.deepEqual(parseOffsetOptions(['e@20', 'end', '-3'], '-o'), {
    start: { kind: 'fromEnd', count: 3n },
    endTimestampMs: 20,
  });
  assert.throws(() => parseOffsetOptions(['e@never'], '-o'), /-o e@: "never" is not a time/);
});
