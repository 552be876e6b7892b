import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '@herald/test-support';
import { ConfigurationError } from '../src/errors.ts';
import { type PatternHost, PatternSubscriber } from '../src/pattern-subscriber.ts';
import type { SubscribeOptions, Subscription } from '../src/transport.ts';

const POLL_MS = 10;
const handler = async () => {};
const options = (topic: string): SubscribeOptions => ({ topic, group: 'g', inFlightMax: 1 });

/** A transport's side of the wiring: a topic list, per-topic subscriptions it records, a closed flag. */
class FakeHost {
  readonly name = 'fake transport';
  readonly pollMs = POLL_MS;
  topics: string[] = [];
  listings = 0;
  isClosed = false;
  /** Topics whose subscription fails. */
  readonly failing = new Set<string>();
  readonly open = new Set<string>();
  readonly subscribed: string[] = [];

  listTopics(): string[] {
    this.listings += 1;
    return [...this.topics];
  }

  async subscribeTopic(topicOptions: SubscribeOptions): Promise<Subscription> {
    if (this.failing.has(topicOptions.topic)) throw new Error(`no ${topicOptions.topic}`);
    this.subscribed.push(topicOptions.topic);
    this.open.add(topicOptions.topic);
    return { close: async () => void this.open.delete(topicOptions.topic) };
  }

  closed(): boolean {
    return this.isClosed;
  }
}

/** Collects the process warnings `run` causes. */
async function warningsOf(run: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  const listener = (warning: Error) => warnings.push(warning.message);
  process.on('warning', listener);
  try {
    await run();
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return warnings;
}

describe('pattern subscriber - the topic-pattern wiring the transports share', { timeout: 20_000 }, () => {
  it('polls the topic list where the host has no watcher: existing and new matches, no others', async () => {
    const host = new FakeHost();
    host.topics = ['orders.eu', 'orders.eu.late', 'payments.eu', '__consumer_offsets'];
    const subscriber = new PatternSubscriber(host);
    const subscription = await subscriber.subscribe(options('orders.*'), handler);
    try {
      assert.deepEqual(host.subscribed, ['orders.eu']);
      host.topics.push('orders.us', 'ordersX.us');
      await eventually(() => host.open.has('orders.us'), 'the poll to subscribe orders.us');
      const listed = host.listings;
      await eventually(() => host.listings >= listed + 2, 'two more polls');
      assert.deepEqual(host.subscribed, ['orders.eu', 'orders.us'], 'each match subscribed once');
    } finally {
      await subscription.close();
    }
    assert.equal(host.open.size, 0, 'closing the pattern closes every per-topic subscription');
    const listed = host.listings;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * 5));
    assert.equal(host.listings, listed, 'a closed pattern subscription polls no more');
  });

  it('close() stops the polls of every open pattern subscription', async () => {
    const host = new FakeHost();
    const subscriber = new PatternSubscriber(host);
    await subscriber.subscribe(options('a.*'), handler);
    await subscriber.subscribe(options('b.>'), handler);
    await eventually(() => host.listings >= 4, 'both patterns to poll');
    subscriber.close();
    const listed = host.listings;
    host.topics.push('a.x', 'b.y.z');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * 5));
    assert.equal(host.listings, listed, 'no poll after close()');
    assert.deepEqual(host.subscribed, []);
  });

  it("uses the host's watcher where it has one, and stops it on close", async () => {
    const host = new FakeHost();
    const listeners = new Set<(topic: string) => void>();
    const watched: PatternHost = {
      name: host.name,
      listTopics: () => host.listTopics(),
      watchTopics: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      subscribeTopic: (topicOptions) => host.subscribeTopic(topicOptions),
      closed: () => host.closed(),
    };
    const subscription = await new PatternSubscriber(watched).subscribe(options('t.*'), handler);
    for (const listener of listeners) listener('t.new');
    await eventually(() => host.open.has('t.new'), 'the announced topic to be subscribed');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * 3));
    assert.equal(host.listings, 1, 'listed once, never polled');
    await subscription.close();
    assert.equal(listeners.size, 0, 'the watcher is stopped');
  });

  it('refuses a malformed pattern or bad options with a ConfigurationError', async () => {
    const subscriber = new PatternSubscriber(new FakeHost());
    await assert.rejects(subscriber.subscribe(options('orders.>.eu'), handler), ConfigurationError);
    await assert.rejects(
      subscriber.subscribe({ topic: 'orders.*', group: 'g', inFlightMax: 0 }, handler),
      ConfigurationError,
    );
  });

  it('warns of a failed new topic, naming the transport, unless the transport is closing', async () => {
    const host = new FakeHost();
    host.failing.add('x.bad');
    host.failing.add('x.late');
    const subscriber = new PatternSubscriber({
      name: host.name,
      pollMs: POLL_MS,
      listTopics: () => host.listTopics(),
      subscribeTopic: (topicOptions) => host.subscribeTopic(topicOptions),
      closed: () => host.closed(),
      describeError: (error) => `described ${String(error)}`,
    });
    const subscription = await subscriber.subscribe(options('x.*'), handler);
    try {
      const warnings = await warningsOf(async () => {
        host.topics.push('x.bad', 'x.good');
        await eventually(() => host.open.has('x.good'), 'the good topic to be subscribed');
      });
      assert.ok(
        warnings.some((warning) =>
          warning.startsWith(
            'fake transport: pattern subscription to "x.bad" failed: described Error: no x.bad',
          ),
        ),
        warnings.join('\n'),
      );
      host.isClosed = true;
      const closing = await warningsOf(async () => {
        host.topics.push('x.late');
        const listed = host.listings;
        await eventually(() => host.listings >= listed + 2, 'two more polls');
      });
      assert.deepEqual(
        closing.filter((warning) => warning.includes('x.late')),
        [],
      );
    } finally {
      await subscription.close();
    }
  });
});
