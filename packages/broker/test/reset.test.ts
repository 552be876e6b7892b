import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EmbeddedTransport, embeddedTransport, GroupActiveError } from '@herald/broker';
import type { ReceivedMessage } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { freshDirectory, idOf, messages, tracked } from './support.ts';

/** Subscribes, collects what arrives until `count` messages came, then closes the subscription. */
async function consume(transport: EmbeddedTransport, count: number, marker?: string): Promise<string[]> {
  const ids: string[] = [];
  const subscription = await transport.subscribe(
    { topic: 'history', group: 'replayer', inFlightMax: 8 },
    async (message: ReceivedMessage) => {
      ids.push(idOf(message));
      await message.ack();
    },
  );
  await eventually(
    () => ids.length >= count && (marker === undefined || ids.includes(marker)),
    () => `${count} messages (have ${ids.length}: ${ids.join(', ')})`,
  );
  await subscription.close();
  return ids.sort((left, right) => Number(left.split('-')[1]) - Number(right.split('-')[1]));
}

describe('group reset', { timeout: 120_000 }, () => {
  it('reset - earliest replays, latest skips, offsets and timestamps start where asked', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 1 }));
    const broker = transport.broker;
    await transport.publish('history', messages(5, 'h'));
    assert.deepEqual(await consume(transport, 5), ['h-0', 'h-1', 'h-2', 'h-3', 'h-4']);

    await broker.resetGroup('history', 'replayer', { to: 'earliest' });
    assert.deepEqual(await consume(transport, 5), ['h-0', 'h-1', 'h-2', 'h-3', 'h-4']);

    await broker.resetGroup('history', 'replayer', { to: 'offsets', offsets: { 0: 3n } });
    assert.equal((await broker.describeGroup('history', 'replayer')).partitions[0]!.committed, 3n);
    assert.deepEqual(await consume(transport, 2), ['h-3', 'h-4']);

    // Each reset below moves the group from somewhere else, so a reset that did nothing fails.
    await broker.resetGroup('history', 'replayer', { to: 'offsets', offsets: { 0: 1n } });
    await broker.resetGroup('history', 'replayer', { to: 'latest' });
    assert.equal((await broker.describeGroup('history', 'replayer')).partitions[0]!.committed, 5n);
    await transport.publish('history', messages(1, 'after'));
    assert.deepEqual(await consume(transport, 1), ['after-0']);

    const boundary = Date.now() + 1;
    await eventually(
      () => Date.now() > boundary,
      () => 'the clock to pass the boundary',
    );
    await transport.publish('history', messages(2, 'late'));
    assert.deepEqual(await consume(transport, 2), ['late-0', 'late-1']);
    assert.equal((await broker.describeGroup('history', 'replayer')).partitions[0]!.committed, 8n);
    await broker.resetGroup('history', 'replayer', { to: 'timestamp', timestampMs: boundary });
    assert.equal((await broker.describeGroup('history', 'replayer')).partitions[0]!.committed, 6n);
    assert.deepEqual(await consume(transport, 2), ['late-0', 'late-1']);
    await transport.close();

    // The reset position is durable.
    const reopened = tracked(await embeddedTransport({ dir, partitions: 1 }));
    await reopened.broker.resetGroup('history', 'replayer', { to: 'offsets', offsets: { 0: 1n } });
    await reopened.close();
    const third = tracked(await embeddedTransport({ dir, partitions: 1 }));
    assert.equal((await third.broker.describeGroup('history', 'replayer')).partitions[0]!.committed, 1n);
    await third.close();
  });

  it('reset - refused while the group has live members, and out-of-range offsets are refused', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 1 }));
    await transport.publish('history', messages(2, 'h'));
    const subscription = await transport.subscribe(
      { topic: 'history', group: 'replayer', inFlightMax: 1 },
      async (message) => message.ack(),
    );
    await assert.rejects(
      transport.broker.resetGroup('history', 'replayer', { to: 'earliest' }),
      (error: unknown) => {
        assert.ok(error instanceof GroupActiveError);
        assert.match(error.message, /live subscriber/);
        assert.match(error.message, /close its subscriptions first/);
        return true;
      },
    );
    await subscription.close();
    await assert.rejects(
      transport.broker.resetGroup('history', 'replayer', { to: 'offsets', offsets: { 0: 99n } }),
      /outside the stored range 0\.\.2/,
    );
    await transport.broker.resetGroup('history', 'replayer', { to: 'earliest' });
    await transport.close();
  });
});
