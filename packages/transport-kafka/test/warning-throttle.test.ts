/** Warnings of one subscription: at most one per interval, the next one counting those dropped. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WarningThrottle } from '../src/warning-throttle.ts';

test('warning throttle - one warning per 30 s, then one saying how many were suppressed', {
  timeout: 5_000,
}, () => {
  let nowMs = 0;
  const written: string[] = [];
  const throttle = new WarningThrottle(
    (message) => written.push(message),
    30_000,
    () => nowMs,
  );
  for (; nowMs < 30_000; nowMs += 100) throttle.warn('broker gone');
  assert.deepEqual(written, ['broker gone']);
  assert.equal(throttle.suppressed, 299);
  throttle.warn('broker gone');
  assert.deepEqual(written, [
    'broker gone',
    'broker gone (299 more warnings suppressed since the previous one)',
  ]);
  assert.equal(throttle.suppressed, 0);
  nowMs += 30_000;
  throttle.warn('broker back?');
  assert.equal(written.at(-1), 'broker back?');
});
