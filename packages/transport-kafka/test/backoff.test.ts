/** The subscription's retry backoff: doubling, capped, jittered, reset by a success. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../src/backoff.ts';

test('backoff - 100 ms doubling to 30 s, each wait in [d/2, d], reset after a success', {
  timeout: 5_000,
}, () => {
  const highest = new Backoff(100, 30_000, () => 1);
  const ceilings = Array.from({ length: 12 }, () => highest.next());
  assert.deepEqual(
    ceilings,
    [100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000],
  );
  const lowest = new Backoff(100, 30_000, () => 0);
  assert.deepEqual([lowest.next(), lowest.next(), lowest.next()], [50, 100, 200]);
  for (let failure = 0; failure < 1_000; failure += 1) {
    const waitMs = new Backoff(100, 30_000).next();
    assert.ok(waitMs >= 50 && waitMs <= 100, `first wait ${waitMs}`);
  }
  const many = new Backoff(100, 30_000);
  for (let failure = 0; failure < 10_000; failure += 1) assert.ok(many.next() <= 30_000);
  assert.equal(many.failures, 10_000);
  many.reset();
  assert.equal(many.failures, 0);
  assert.ok(many.next() <= 100, 'after a success the wait starts short again');
});
