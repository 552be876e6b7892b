/**
 * The dispatcher's deadline sweep (one timer for every handler run's timeout): runs that end in
 * time never fire, runs that do not fire once, different timeouts fire in deadline order, and the
 * entries it holds stay bounded however many runs pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineSweep } from '@herald/bus/internal';

/** Waits until `condition` holds, failing after `timeoutMs`. */
async function eventually(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadlineMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

describe('DeadlineSweep', { timeout: 30_000 }, () => {
  it('fires only the runs that did not end in time, once each, not before their deadline', async () => {
    const sweep = new DeadlineSweep();
    const fired: string[] = [];
    const startedMs = performance.now();
    const firedAtMs: number[] = [];
    const quick = sweep.add(30, () => fired.push('quick'));
    const slow = sweep.add(30, () => {
      fired.push('slow');
      firedAtMs.push(performance.now());
    });
    sweep.settle(quick);
    assert.equal(sweep.running, 1);
    await eventually(() => fired.length === 1, 'the slow run to expire');
    assert.deepEqual(fired, ['slow']);
    assert.ok(firedAtMs[0]! - startedMs >= 29, `fired after ${firedAtMs[0]! - startedMs} ms`);
    assert.equal(slow.done, true);
    sweep.settle(slow); // after expiry: harmless
    assert.equal(sweep.running, 0);
    await sleep(50);
    assert.deepEqual(fired, ['slow']);
  });

  it('keeps one timer over different timeouts and fires them in deadline order', async () => {
    const sweep = new DeadlineSweep();
    const fired: number[] = [];
    sweep.add(80, () => fired.push(80));
    sweep.add(20, () => fired.push(20));
    sweep.add(50, () => fired.push(50));
    await eventually(() => fired.length === 3, 'all three to expire');
    assert.deepEqual(fired, [20, 50, 80]);
    assert.equal(sweep.running, 0);
  });

  it('a run added after an idle spell still expires', async () => {
    const sweep = new DeadlineSweep();
    sweep.settle(sweep.add(10, () => assert.fail('settled in time')));
    await sleep(30); // the timer armed for the first run has fired with nothing due
    let expired = false;
    sweep.add(10, () => {
      expired = true;
    });
    await eventually(() => expired, 'the second run to expire');
  });

  it('holds a bounded number of ended entries behind a run that never ends', () => {
    const sweep = new DeadlineSweep();
    const stuck = sweep.add(60_000, () => {});
    let heldMax = 0;
    for (let n = 0; n < 100_000; n++) {
      const run = sweep.add(60_000, () => {});
      sweep.settle(run);
      // Compaction keeps entries under 2 × running + 64: memory does not grow with the runs that passed.
      heldMax = Math.max(heldMax, sweep.held);
    }
    assert.ok(heldMax <= 2 * 2 + 64 + 1, `held up to ${heldMax} entries`);
    sweep.settle(stuck);
    assert.equal(sweep.running, 0);
    assert.equal(sweep.held, 0);
  });
});
