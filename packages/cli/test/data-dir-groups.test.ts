/**
 * `groups list` and `groups describe` on a data directory see both kinds of positions the broker
 * keeps, through the broker's API: the bus's (embedded) subscribers and Kafka-style commits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { embeddedTransport } from '@herald/broker';
import { eventually, temporaryDirectory } from '@herald/test-support';
import { heraldOk } from './support.ts';

type Json = Record<string, unknown>;

/** `orders` (1 partition) with 7 messages: 5 acked by the embedded group `billing`, `audit` committed at 1. */
async function writeGroups(dir: string): Promise<void> {
  const transport = await embeddedTransport({ dir, partitions: 1 });
  try {
    const body = new TextEncoder().encode('{}');
    await transport.publish(
      'orders',
      Array.from({ length: 5 }, () => ({ headers: {}, body })),
    );
    let acked = 0;
    const subscription = await transport.subscribe(
      { topic: 'orders', group: 'billing', inFlightMax: 4 },
      async (message) => {
        await message.ack();
        acked += 1;
      },
    );
    await eventually(
      () => acked === 5,
      () => `5 acks (have ${acked})`,
    );
    await subscription.close();
    await transport.publish(
      'orders',
      Array.from({ length: 2 }, () => ({ headers: {}, body })),
    );
    await transport.broker.commitOffsets('orders', 'audit', new Map([[0, 1n]]));
  } finally {
    await transport.close();
  }
}

test('cli data dir groups - list and describe show embedded and Kafka groups', {
  timeout: 120_000,
}, async () => {
  const dir = temporaryDirectory();
  await writeGroups(dir);
  const listed = JSON.parse((await heraldOk(['groups', 'list', '-J', '--data', dir])).stdout) as Json[];
  assert.deepEqual(
    listed.map((row) => ({ group: row.group, kind: row.kind, topics: row.topics, lag: Number(row.lag) })),
    [
      { group: 'audit', kind: 'kafka', topics: ['orders'], lag: 6 },
      { group: 'billing', kind: 'embedded', topics: ['orders'], lag: 2 },
    ],
  );
  const [billing, ...others] = JSON.parse(
    (await heraldOk(['groups', 'describe', '-g', 'billing', '-J', '--data', dir])).stdout,
  ) as Json[];
  assert.equal(others.length, 0);
  assert.equal(billing!.kind, 'embedded');
  assert.deepEqual(
    (billing!.partitions as Json[]).map((entry) => [Number(entry.committed), Number(entry.lag)]),
    [[5, 2]],
  );
});
