/**
 * How long a subscription's first join keeps trying again (REBALANCE_IN_PROGRESS, a coordinator
 * still loading) before `subscribe` rejects: as long as one rebalance may last, not a session
 * timeout. A CI run with seven checkout services starting at once on a loaded machine saw the
 * scheduler's shared group rebalance for more than the 10 s session timeout, and a service exit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstJoinWindowMs } from '../src/errors.ts';
import { resolveOptions } from '../src/options.ts';

describe('kafka transport first join', { timeout: 10_000 }, () => {
  it('first join - retries for the rebalance timeout, which is never shorter than the session timeout', () => {
    const defaults = resolveOptions({ brokers: ['127.0.0.1:9092'] });
    assert.equal(defaults.sessionTimeoutMs, 10_000);
    assert.equal(firstJoinWindowMs(defaults), 30_000, 'the default rebalance timeout');
    const longer = resolveOptions({ brokers: ['127.0.0.1:9092'], rebalanceTimeoutMs: 120_000 });
    assert.equal(firstJoinWindowMs(longer), 120_000);
    const sessionLong = resolveOptions({ brokers: ['127.0.0.1:9092'], sessionTimeoutMs: 60_000 });
    assert.equal(firstJoinWindowMs(sessionLong), 60_000, 'the rebalance timeout follows a longer session');
  });
});
