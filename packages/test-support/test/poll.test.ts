import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, until } from '../src/poll.ts';

describe('poll', { timeout: 30_000 }, () => {
  it('poll - eventually resolves as soon as the condition holds, sync or async', async () => {
    let checks = 0;
    await eventually(() => ++checks >= 3, 'three checks', 5_000, 1);
    assert.equal(checks, 3);
    await eventually(async () => true, 'an async condition');
  });

  it('poll - a timeout names what was awaited, described when it fails', async () => {
    let state = 'starting';
    const waiting = eventually(
      () => false,
      () => `ready (state ${state})`,
      50,
      5,
    );
    state = 'stuck';
    await assert.rejects(waiting, (error: Error) => {
      assert.equal(error.name, 'AssertionError');
      assert.match(error.message, /^timed out after 50 ms waiting for ready \(state stuck\)$/);
      return true;
    });
  });

  it('poll - a check that throws counts as not yet, and its last error is in the failure', async () => {
    let calls = 0;
    await eventually(
      () => {
        calls += 1;
        if (calls < 3) throw new Error('not connected');
        return true;
      },
      'a connection',
      5_000,
      1,
    );
    await assert.rejects(
      eventually(
        () => {
          throw new Error('connection refused');
        },
        'a connection',
        30,
        5,
      ),
      /waiting for a connection; the last check threw: connection refused/,
    );
  });

  it('poll - a check that never settles fails at the deadline instead of hanging', async () => {
    const never = new Promise<boolean>(() => {});
    await assert.rejects(
      eventually(() => never, 'a promise that never settles', 50),
      /timed out after 50 ms waiting for a promise that never settles; the last check threw: timed out after [\d.]+ ms waiting for the check to settle/,
    );
  });

  it('poll - until resolves the first accepted value', async () => {
    let value = 0;
    assert.equal(
      await until(
        () => ++value,
        (current) => current === 4,
        'four',
        5_000,
        1,
      ),
      4,
    );
  });
});
