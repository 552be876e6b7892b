import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClosedError } from '../src/errors.ts';
import { SubscriptionRegistry } from '../src/subscription-registry.ts';

/** A subscription that counts its closes and forgets itself like a transport's does. */
class FakeSubscription {
  closes = 0;
  readonly #registry: SubscriptionRegistry<FakeSubscription>;

  constructor(registry: SubscriptionRegistry<FakeSubscription>) {
    this.#registry = registry;
  }

  async close(): Promise<void> {
    this.closes += 1;
    this.#registry.forget(this);
  }
}

describe('subscription registry - the lifecycle the transports share', { timeout: 10_000 }, () => {
  it('a started subscription is handed to close, which runs once for every call', async () => {
    const registry = new SubscriptionRegistry<FakeSubscription>('fake transport');
    const subscription = await registry.start(new FakeSubscription(registry), async () => {});
    let runs = 0;
    const close = async (subscriptions: readonly FakeSubscription[]) => {
      runs += 1;
      assert.equal(registry.closed, true, 'closed before the close work runs');
      await Promise.all(subscriptions.map((open) => open.close()));
    };
    await Promise.all([registry.close(close), registry.close(close)]);
    await registry.close(close);
    assert.equal(runs, 1);
    assert.equal(subscription.closes, 1);
    assert.throws(() => registry.assertOpen(), ClosedError);
    assert.match(registry.closedError().message, /^fake transport is closed; create a new one/);
  });

  it('a subscription whose start fails is closed and forgotten; the error is the start error', async () => {
    const registry = new SubscriptionRegistry<FakeSubscription>('fake transport');
    const failing = new FakeSubscription(registry);
    await assert.rejects(
      registry.start(failing, async () => {
        throw new Error('join failed');
      }),
      /join failed/,
    );
    assert.equal(failing.closes, 1);
    const seen: FakeSubscription[][] = [];
    await registry.close(async (subscriptions) => {
      seen.push([...subscriptions]);
    });
    assert.deepEqual(seen, [[]], 'nothing left to close');
  });

  it('a subscription that finishes starting after close began is closed and refused', async () => {
    const registry = new SubscriptionRegistry<FakeSubscription>('fake transport');
    let finishStart = () => {};
    const starting = new FakeSubscription(registry);
    const started = registry.start(
      starting,
      () =>
        new Promise<void>((resolve) => {
          finishStart = resolve;
        }),
    );
    // Close begins while the start is pending: it sees the subscription (it is registered).
    const closing = registry.close(async (subscriptions) => {
      assert.deepEqual(subscriptions, [starting]);
    });
    finishStart();
    await assert.rejects(started, ClosedError);
    await closing;
    assert.equal(starting.closes, 1);
    assert.throws(() => registry.assertOpen(), ClosedError);
  });
});
