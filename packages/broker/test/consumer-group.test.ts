import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { embeddedTransport } from '@herald/broker';
import type { ReceivedMessage } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { ACKS_UNSTORED_MAX, ADMITTED_PER_TURN_MAX, ConsumerGroup } from '../src/consumer-group.ts';
import type { PartitionLog } from '../src/partition-log.ts';
import { UnstoredAcks } from '../src/unstored-acks.ts';
import { storedRead, type TestRecord } from './support/stored-read.ts';
import { freshDirectory, idOf, messages, tracked } from './support.ts';

/**
 * A group's stored position, replayed from the positions journal (`u32 length, u32 CRC, JSON`
 * records; commit markers, `u32 0xFFFFFFFF, u32 CRC, u64 position`, are skipped).
 */
function storedOffsets(dir: string, topic: string, group: string) {
  type Stored = { partition: number; committed: string; ackedAhead: [string, string][] };
  const bytes = readFileSync(path.join(dir, 'group-positions.log'));
  let partitions: Stored[] = [];
  // A record cut short at the end is an append still being written (read while the broker runs).
  for (let at = 0; at + 8 <= bytes.byteLength; ) {
    const length = bytes.readUInt32BE(at);
    if (length === 0xffffffff) {
      at += 16;
      continue;
    }
    if (at + 8 + length > bytes.byteLength) break;
    const payload = bytes.subarray(at + 8, at + 8 + length);
    assert.equal(crc32(payload), bytes.readUInt32BE(at + 4), `record at byte ${at}`);
    const { ops } = JSON.parse(payload.toString('utf8')) as {
      ops: { topic: string; group?: string; deleted?: true; partitions?: Stored[] }[];
    };
    for (const op of ops) {
      if (op.topic !== topic) continue;
      if (op.deleted === true) partitions = [];
      else if (op.group === group) partitions = op.partitions!;
    }
    at += 8 + length;
  }
  return new Map(partitions.map((entry) => [entry.partition, entry]));
}

describe('consumer groups', { timeout: 120_000 }, () => {
  it('groups - acked messages are never redelivered after a restart, unacked ones are', async () => {
    const dir = freshDirectory();
    const first = tracked(await embeddedTransport({ dir, partitions: 1 }));
    await first.publish('jobs', messages(10, 'j'));
    const held = new Set(['j-2', 'j-5', 'j-6']);
    const seen: ReceivedMessage[] = [];
    await first.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 10 }, async (message) => {
      seen.push(message);
      if (!held.has(idOf(message))) await message.ack();
    });
    await eventually(
      () => seen.length === 10,
      () => `10 deliveries (have ${seen.length})`,
    );
    await first.close();

    const stored = storedOffsets(dir, 'jobs', 'workers').get(0)!;
    assert.equal(stored.committed, '2', 'committed offset stops at the lowest unacked message');
    assert.deepEqual(stored.ackedAhead, [
      ['3', '4'],
      ['7', '9'],
    ]);

    const second = tracked(await embeddedTransport({ dir, partitions: 1 }));
    const redelivered: ReceivedMessage[] = [];
    await second.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 10 }, async (message) => {
      redelivered.push(message);
      await message.ack();
    });
    await eventually(
      () => redelivered.length >= 3,
      () => `the 3 unacked messages (have ${redelivered.map(idOf)})`,
    );
    // Publish a marker and wait for it, so a late redelivery of an acked message would be seen.
    await second.publish('jobs', messages(1, 'marker'));
    await eventually(
      () => redelivered.some((message) => idOf(message) === 'marker-0'),
      () => 'the marker',
    );
    assert.deepEqual(redelivered.map(idOf).sort(), ['j-2', 'j-5', 'j-6', 'marker-0']);
    assert.ok(
      redelivered.every((message) => message.deliveryAttempt === 1),
      'attempts restart at 1',
    );
    await second.close();
    assert.equal(storedOffsets(dir, 'jobs', 'workers').get(0)!.committed, '11');
  });

  it('groups - acks stored ahead of an unacked message survive a restart that acks others', async () => {
    // Found by the broker crash harness: a restarted group skipped the offsets it had stored as
    // acked ahead but dropped them from the position it stored next, so one more restart
    // redelivered them.
    const dir = freshDirectory();
    const first = tracked(await embeddedTransport({ dir, partitions: 1 }));
    await first.publish('jobs', messages(5, 'j'));
    let acked = 0;
    await first.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 10 }, async (message) => {
      if (idOf(message) === 'j-0') return; // held: the commit point stays at 0
      await message.ack();
      acked++;
    });
    await eventually(
      () => acked === 4,
      () => `4 acks (have ${acked})`,
    );
    await first.close();
    assert.deepEqual(storedOffsets(dir, 'jobs', 'workers').get(0)!.ackedAhead, [['1', '4']]);

    const second = tracked(await embeddedTransport({ dir, partitions: 1 }));
    const seenSecond: string[] = [];
    let markerAcked = false;
    await second.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 10 }, async (message) => {
      seenSecond.push(idOf(message));
      if (idOf(message) !== 'marker-0') return; // j-0 held again
      await message.ack();
      markerAcked = true;
    });
    await second.publish('jobs', messages(1, 'marker'));
    await eventually(
      () => markerAcked,
      () => `the marker acked (seen ${seenSecond})`,
    );
    await second.close();
    assert.deepEqual(seenSecond.sort(), ['j-0', 'marker-0'], 'only the unacked message and the marker');
    assert.deepEqual(storedOffsets(dir, 'jobs', 'workers').get(0)!.ackedAhead, [['1', '5']]);

    const third = tracked(await embeddedTransport({ dir, partitions: 1 }));
    const seenThird: string[] = [];
    await third.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 10 }, async (message) => {
      seenThird.push(idOf(message));
      await message.ack();
    });
    await third.publish('jobs', messages(1, 'last'));
    await eventually(
      () => seenThird.includes('last-0'),
      () => `the last marker (seen ${seenThird})`,
    );
    await third.close();
    assert.deepEqual(seenThird.sort(), ['j-0', 'last-0'], 'acks stored ahead are never redelivered');
  });

  it('groups - the stored committed offset never passes an unacked message', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 2 }));
    await transport.publish(
      'audit',
      messages(40, 'a', (index) => `key-${index % 6}`),
    );
    let hold: ReceivedMessage | undefined;
    const acked: ReceivedMessage[] = [];
    // Every stored position, read after each ack while a-7 is held: recorded here, asserted after
    // the wait (an assertion inside the handler would only turn into a nack of an acked message).
    const storedWhileHeld: bigint[] = [];
    const readErrors: unknown[] = [];
    await transport.subscribe({ topic: 'audit', group: 'g', inFlightMax: 8 }, async (message) => {
      if (idOf(message) === 'a-7') {
        hold = message;
        return;
      }
      await message.ack();
      acked.push(message);
      if (hold === undefined) return;
      try {
        const stored = storedOffsets(dir, 'audit', 'g').get(hold.partition);
        if (stored !== undefined) storedWhileHeld.push(BigInt(stored.committed));
      } catch (error) {
        readErrors.push(error);
      }
    });
    await eventually(
      () => hold !== undefined && acked.length >= 30,
      () => `a-7 held and most others acked (acked ${acked.length})`,
    );
    const heldPartition = hold!.partition;
    assert.deepEqual(readErrors, [], 'the journal read cleanly while a-7 was held');
    assert.ok(storedWhileHeld.length > 0, 'positions were read while a-7 was held');
    const passed = storedWhileHeld.filter((committed) => committed > BigInt(hold!.offset));
    assert.deepEqual(passed, [], `committed passed the held a-7 at offset ${hold!.offset}`);
    const stored = storedOffsets(dir, 'audit', 'g').get(heldPartition)!;
    assert.ok(BigInt(stored.committed) <= BigInt(hold!.offset));
    const description = await transport.broker.describeGroup('audit', 'g');
    assert.equal(description.partitions[heldPartition]!.committed, BigInt(hold!.offset));
    await hold!.ack();
    await eventually(
      () => acked.length === 39,
      () => `39 acks (have ${acked.length})`,
    );
    const after = storedOffsets(dir, 'audit', 'g').get(heldPartition)!;
    assert.ok(BigInt(after.committed) > BigInt(hold!.offset), 'committed moves on once the hole is acked');
    await transport.close();
  });

  it('groups - per-key order holds across partitions with several members and nacks', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 4 }));
    const keys = 12;
    const perKey = 25;
    const processed = new Map<string, number[]>();
    const active = new Set<string>();
    let overlaps = 0;
    let nacks = 0;
    const handler = async (message: ReceivedMessage) => {
      const key = message.key!;
      if (active.has(key)) overlaps += 1;
      active.add(key);
      await new Promise((resolve) => setImmediate(resolve));
      active.delete(key);
      const sequence = Number(message.headers['x-sequence']);
      if (sequence % 37 === 5 && message.deliveryAttempt === 1) {
        nacks += 1;
        await message.nack();
        return;
      }
      processed.set(key, [...(processed.get(key) ?? []), sequence]);
      await message.ack();
    };
    await transport.subscribe({ topic: 'orders', group: 'g', inFlightMax: 4 }, handler);
    await transport.subscribe({ topic: 'orders', group: 'g', inFlightMax: 4 }, handler);
    const all = messages(keys * perKey, 'o', (index) => `customer-${index % keys}`);
    for (let start = 0; start < all.length; start += 30)
      await transport.publish('orders', all.slice(start, start + 30));
    const total = () => [...processed.values()].reduce((sum, list) => sum + list.length, 0);
    await eventually(
      () => total() === keys * perKey,
      () => `${keys * perKey} processed (have ${total()})`,
    );
    const partitionsUsed = new Set<number>();
    for (const [key, sequences] of processed) {
      assert.deepEqual(
        sequences,
        [...sequences].sort((left, right) => left - right),
        `${key} out of order`,
      );
      partitionsUsed.add((await import('@herald/bus/internal')).partitionForKey(key, 4));
    }
    assert.ok(partitionsUsed.size > 1, 'the keys spread over several partitions');
    assert.equal(overlaps, 0, 'two messages of one key were in flight together');
    assert.ok(nacks > 0);
    await transport.close();
  });

  it('groups - a message held past the visibility timeout is redelivered and the stale ack ignored', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, visibilityTimeoutMs: 150 }));
    const deliveries: ReceivedMessage[] = [];
    await transport.subscribe({ topic: 'slow', group: 'g', inFlightMax: 1 }, async (message) => {
      deliveries.push(message);
      if (deliveries.length > 1) await message.ack();
    });
    await transport.publish(
      'slow',
      messages(1, 's', () => 'k'),
    );
    await eventually(
      () => deliveries.length === 2,
      () => `a redelivery after the visibility timeout (have ${deliveries.length})`,
    );
    assert.equal(deliveries[1]!.deliveryAttempt, 2);
    assert.ok(deliveries[1]!.timestampMs === deliveries[0]!.timestampMs);
    await deliveries[0]!.ack(); // stale: a no-op
    const description = await transport.broker.describeGroup('slow', 'g');
    const total = description.partitions.reduce((sum, partition) => sum + partition.lag, 0n);
    assert.equal(total, 0n);
    await transport.close();
  });

  it('groups - deliveries with later deadlines, none acked, all come back after their visibility timeouts', async () => {
    // Only a deadline earlier than every held one sets the timer when delivered; the later ones
    // are found when the earliest expires, and each comes back once its own timeout passed.
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 1, visibilityTimeoutMs: 200 }));
    const deliveries: { readonly message: ReceivedMessage; readonly atMs: number }[] = [];
    await transport.subscribe({ topic: 'held', group: 'g', inFlightMax: 3 }, async (message) => {
      deliveries.push({ message, atMs: performance.now() });
      if (message.deliveryAttempt > 1) await message.ack();
    });
    for (const name of ['a', 'b', 'c']) {
      await transport.publish('held', messages(1, name));
      const count = deliveries.length + 1;
      await eventually(
        () => deliveries.length === count,
        () => `delivery ${count} (have ${deliveries.length})`,
      );
      // Later deadlines than the first delivery's.
      const deliveredAtMs = deliveries.at(-1)!.atMs;
      await eventually(
        () => performance.now() - deliveredAtMs >= 40,
        () => '40 ms after the last delivery',
      );
    }
    await eventually(
      () => deliveries.length === 6,
      () => `three redeliveries (have ${deliveries.length})`,
    );
    for (const offset of ['0', '1', '2']) {
      const [first, second] = deliveries.filter(({ message }) => message.offset === offset);
      assert.equal(second!.message.deliveryAttempt, 2, `offset ${offset} came back once`);
      // The timer's own granularity aside, not before the timeout.
      assert.ok(second!.atMs - first!.atMs >= 190, `offset ${offset} held ${second!.atMs - first!.atMs} ms`);
    }
    await transport.close();
  });

  it('groups - a new group starts at the earliest message; offsets are Kafka offsets', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 1 }));
    await transport.publish('events', messages(5, 'e'));
    const offsets: string[] = [];
    await transport.subscribe({ topic: 'events', group: 'late', inFlightMax: 5 }, async (message) => {
      offsets.push(message.offset);
      await message.ack();
    });
    await eventually(
      () => offsets.length === 5,
      () => `5 deliveries (have ${offsets.length})`,
    );
    assert.deepEqual(offsets.sort(), ['0', '1', '2', '3', '4']);
    await transport.close();
  });

  it('groups - partitions are served round-robin, each in offset order', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 2 }));
    // Keyless messages of one call go to one partition, the next call to the next one.
    // Partition 0 gets far more than partition 1, so partition 1's first read lands while
    // partition 0 still has plenty left however slow the machine is (each ack waits for an fsync).
    await transport.publish('mixed', messages(200, 'x'));
    await transport.publish('mixed', messages(10, 'y'));
    const seen: ReceivedMessage[] = [];
    await transport.subscribe({ topic: 'mixed', group: 'g', inFlightMax: 1 }, async (message) => {
      seen.push(message);
      // Let I/O run between deliveries, so the other partition's first read lands early.
      await new Promise((resolve) => setImmediate(resolve));
      await message.ack();
    });
    await eventually(
      () => seen.length === 210,
      () => `210 deliveries (have ${seen.length})`,
    );
    for (const partition of [0, 1]) {
      const offsets = seen.filter((message) => message.partition === partition).map((m) => Number(m.offset));
      assert.deepEqual(
        offsets,
        [...offsets].sort((left, right) => left - right),
        `partition ${partition}`,
      );
    }
    // Partitions are read independently, so one may run alone until the other's read lands;
    // from then on they alternate.
    const partitions = seen.map((message) => message.partition).join('');
    const firstOfOne = partitions.indexOf('1');
    assert.ok(firstOfOne < 190, `partition 1 waited for ${firstOfOne} deliveries: ${partitions}`);
    assert.equal(partitions.slice(firstOfOne, firstOfOne + 19), '1010101010101010101');
    await transport.close();
  });
});

describe('consumer group bounds', { timeout: 120_000 }, () => {
  it('groups - a catch-up stops admitting records while ACKS_UNSTORED_MAX acks wait for their position write', async () => {
    const total = ACKS_UNSTORED_MAX * 4;
    const windowRecordsMax = 256;
    const log = memoryLog(total);
    // Position writes that finish only when the test says so: a disk far slower than the reader.
    const writes: (() => void)[] = [];
    const group = new ConsumerGroup(
      { name: 'backlog', logs: [log] },
      'g',
      undefined,
      () => new Promise<void>((resolve) => writes.push(resolve)),
      { windowRecordsMax, windowBytesMax: 1 << 20, fetchBytesMax: 1024, visibilityTimeoutMs: 60_000 },
      (error) => assert.fail(String(error)),
    );
    let delivered = 0;
    let stored = 0;
    group.join(async (message: ReceivedMessage) => {
      delivered += 1;
      await message.ack();
      stored += 1;
    }, 64);
    try {
      // Deliveries stop once the bound is reached, plus at most what the window held then.
      await eventually(
        () => group.acksUnstoredCount >= ACKS_UNSTORED_MAX,
        () => `${ACKS_UNSTORED_MAX} acks waiting (have ${group.acksUnstoredCount})`,
      );
      // Let every delivery the group would still make happen (a few event-loop turns, no clock).
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.ok(
        delivered <= ACKS_UNSTORED_MAX + windowRecordsMax,
        `${delivered} delivered while no position write finished`,
      );
      assert.equal(stored, 0);
      // Finishing the writes resumes admission until everything is delivered and stored.
      await eventually(
        () => {
          for (const resolve of writes.splice(0)) resolve();
          return stored === total;
        },
        () => `${total} acks stored (have ${stored}, delivered ${delivered})`,
      );
      assert.equal(delivered, total);
    } finally {
      for (const resolve of writes.splice(0)) resolve();
      await group.close();
    }
  });

  it('groups - the groups of a broker share the ACKS_UNSTORED_MAX bound: together they stop admitting, and resume as writes finish', async () => {
    const unstored = new UnstoredAcks(ACKS_UNSTORED_MAX);
    const perGroup = ACKS_UNSTORED_MAX; // Each group alone could reach the bound.
    const windowRecordsMax = 256;
    const writes: (() => void)[] = [];
    let delivered = 0;
    let stored = 0;
    const groups = ['a', 'b', 'c'].map((name) => {
      const group = new ConsumerGroup(
        { name: `topic-${name}`, logs: [memoryLog(perGroup)] },
        'g',
        undefined,
        () => new Promise<void>((resolve) => writes.push(resolve)),
        { windowRecordsMax, windowBytesMax: 1 << 20, fetchBytesMax: 1024, visibilityTimeoutMs: 60_000 },
        (error) => assert.fail(String(error)),
        unstored,
      );
      group.join(async (message: ReceivedMessage) => {
        delivered += 1;
        await message.ack();
        stored += 1;
      }, 64);
      return group;
    });
    try {
      await eventually(
        () => unstored.full,
        () => `${ACKS_UNSTORED_MAX} acks waiting across the groups (have ${unstored.count})`,
      );
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      // Three groups, one bound: at most the bound plus what each window held then.
      assert.ok(
        delivered <= ACKS_UNSTORED_MAX + groups.length * windowRecordsMax,
        `${delivered} delivered while no position write finished`,
      );
      assert.equal(
        groups.reduce((sum, group) => sum + group.acksUnstoredCount, 0),
        unstored.count,
        "the shared count is the sum of the groups' own",
      );
      await eventually(
        () => {
          for (const resolve of writes.splice(0)) resolve();
          return stored === perGroup * groups.length;
        },
        () => `every ack stored (have ${stored}, delivered ${delivered})`,
      );
      assert.equal(unstored.count, 0);
    } finally {
      for (const resolve of writes.splice(0)) resolve();
      await Promise.all(groups.map((group) => group.close()));
    }
  });

  it('groups - acks made before the store reads the position share one write, which stores all of them', async () => {
    const total = 64;
    const log = memoryLog(total);
    // Writes that read the position and finish only when the test says so.
    const writes: { read: () => void; resolve: () => void }[] = [];
    const stored: bigint[] = [];
    const group = new ConsumerGroup(
      { name: 'shared', logs: [log] },
      'g',
      undefined,
      (position) =>
        new Promise<void>((resolve) => {
          writes.push({ read: () => stored.push(position().get(0)!.committed), resolve });
        }),
      {
        windowRecordsMax: total,
        windowBytesMax: 1 << 20,
        fetchBytesMax: 1 << 20,
        visibilityTimeoutMs: 60_000,
      },
      (error) => assert.fail(String(error)),
    );
    const delivered: ReceivedMessage[] = [];
    group.join(async (message) => {
      delivered.push(message);
    }, total);
    try {
      await eventually(
        () => delivered.length === total,
        () => `${total} deliveries (have ${delivered.length})`,
      );
      let acked = 0;
      const acks = delivered.map((message) => message.ack().then(() => (acked += 1)));
      assert.equal(writes.length, 1, 'one write requested for every ack made before it read the position');
      assert.equal(group.acksUnstoredCount, total);
      writes[0]!.read();
      assert.deepEqual(stored, [BigInt(total)], 'the write stores the position of every ack that joined it');
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(acked, 0, 'no ack resolves before its write is durable');
      writes[0]!.resolve();
      await Promise.all(acks);
      assert.equal(group.acksUnstoredCount, 0);
    } finally {
      for (const write of writes) write.resolve();
      await group.close();
    }
  });

  it('groups - a catch-up admits at most ADMITTED_PER_TURN_MAX records before the event loop turns', async () => {
    const total = ADMITTED_PER_TURN_MAX * 4;
    const windowRecordsMax = 256;
    const group = new ConsumerGroup(
      { name: 'turns', logs: [memoryLog(total)] },
      'g',
      undefined,
      async () => {},
      { windowRecordsMax, windowBytesMax: 1 << 20, fetchBytesMax: 1 << 20, visibilityTimeoutMs: 60_000 },
      (error) => assert.fail(String(error)),
    );
    // Deliveries counted per turn of the event loop (a setImmediate marks each turn).
    const perTurn: number[] = [0];
    let turns = true;
    const countTurns = (): void => {
      perTurn.push(0);
      if (turns) setImmediate(countTurns);
    };
    setImmediate(countTurns);
    let handled = 0;
    group.join(async (message: ReceivedMessage) => {
      perTurn[perTurn.length - 1]! += 1;
      await message.ack();
      handled += 1;
    }, 64);
    try {
      await eventually(
        () => handled === total,
        () => `${total} handled (have ${handled})`,
      );
      const most = Math.max(...perTurn);
      // The records admitted in one turn, plus those the window held when it began.
      assert.ok(most <= ADMITTED_PER_TURN_MAX + windowRecordsMax, `${most} deliveries in one turn`);
    } finally {
      turns = false;
      await group.close();
    }
  });
});

/** A one-partition log of `total` 8-byte keyless records that reads from memory at once. */
function memoryLog(total: number): PartitionLog {
  const records = Array.from(
    { length: total },
    (_, index): TestRecord => ({
      offset: BigInt(index),
      timestampMs: 0,
      key: null,
      value: new Uint8Array(8),
      headers: [],
    }),
  );
  return {
    highWatermark: BigInt(total),
    logStartOffset: 0n,
    appendTo: (_records, waiter) => waiter.failed(new Error('read-only')),
    // At most `bytesMax` records per read (one byte each, as far as this fake counts).
    read: async (offset, bytesMax) =>
      storedRead([records.slice(Number(offset), Number(offset) + bytesMax)], BigInt(total)),
    offsetForTimestamp: async () => undefined,
    onAppend: () => () => {},
    close: async () => {},
  };
}
