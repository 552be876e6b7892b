/**
 * The broker README's bounds, each set small through its option and observed from outside: group
 * windows (records and bytes, one record always admitted), the 1024-partition cap, the log's append
 * queue refusing a publish with a retriable BrokerStorageError, and the positions journal's
 * compaction (past 4 MiB, and on every open).
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { BrokerStorageError, embeddedTransport, openBroker } from '@herald/broker';
import { ConfigurationError, PayloadTooLargeError, type ReceivedMessage } from '@herald/bus';
import { quiet } from '@herald/conformance';
import { eventually } from '@herald/test-support';
import { freshDirectory, idOf, messages, tracked } from './support.ts';

/**
 * The payloads of the positions journal's complete records (`u32 length, u32 CRC, JSON`), skipping
 * its commit markers (`u32 0xFFFFFFFF, u32 CRC, u64 position`).
 */
function journalRecords(dir: string): unknown[] {
  const bytes = readFileSync(path.join(dir, 'group-positions.log'));
  const records: unknown[] = [];
  for (let at = 0; at + 8 <= bytes.byteLength; ) {
    const length = bytes.readUInt32BE(at);
    if (length === 0xffffffff) {
      at += 16;
      continue;
    }
    const payload = bytes.subarray(at + 8, at + 8 + length);
    assert.equal(crc32(payload), bytes.readUInt32BE(at + 4), `journal record at byte ${at}`);
    records.push(JSON.parse(payload.toString('utf8')));
    at += 8 + length;
  }
  return records;
}

describe('broker bounds', { timeout: 120_000 }, () => {
  it('bounds - a group buffers at most groupWindowRecordsMax records per partition', async () => {
    const transport = tracked(
      await embeddedTransport({ dir: freshDirectory(), partitions: 1, groupWindowRecordsMax: 4 }),
    );
    await transport.publish('windowed', messages(10, 'w'));
    const held: ReceivedMessage[] = [];
    await transport.subscribe({ topic: 'windowed', group: 'g', inFlightMax: 64 }, async (message) => {
      held.push(message); // Held: the window stays full.
    });
    await eventually(
      () => held.length >= 4,
      () => `4 deliveries (have ${held.length})`,
    );
    await quiet(() => held.length, 'deliveries with a full window');
    assert.deepEqual(held.map(idOf), ['w-0', 'w-1', 'w-2', 'w-3'], 'inFlightMax 64, but the window holds 4');
    await held[0]!.ack(); // The acked head leaves the window: room for exactly one more.
    await eventually(
      () => held.length >= 5,
      () => `a 5th delivery after the ack (have ${held.length})`,
    );
    await quiet(() => held.length, 'deliveries after one ack');
    assert.deepEqual(held.map(idOf), ['w-0', 'w-1', 'w-2', 'w-3', 'w-4']);
  });

  it('bounds - groupWindowBytesMax limits buffered bytes, and one larger record is still admitted', async () => {
    const transport = tracked(
      await embeddedTransport({ dir: freshDirectory(), partitions: 1, groupWindowBytesMax: 1 }),
    );
    await transport.publish('windowed', messages(3, 'b')); // Every record is larger than 1 byte.
    const held: ReceivedMessage[] = [];
    await transport.subscribe({ topic: 'windowed', group: 'g', inFlightMax: 64 }, async (message) => {
      held.push(message);
    });
    await eventually(
      () => held.length >= 1,
      () => 'the first record, larger than the window',
    );
    await quiet(() => held.length, 'deliveries with a full byte window');
    assert.deepEqual(held.map(idOf), ['b-0']);
    await held[0]!.ack();
    await eventually(
      () => held.length >= 2,
      () => `the next record after the ack (have ${held.length})`,
    );
    await quiet(() => held.length, 'deliveries after one ack');
    assert.deepEqual(held.map(idOf), ['b-0', 'b-1']);
  });

  it('bounds - a topic has at most 1024 partitions', async () => {
    const dir = freshDirectory();
    const refused = (error: unknown) => {
      assert.ok(error instanceof ConfigurationError, String(error));
      assert.match(error.message, /partitions must be an integer from 1 to 1024, got 1025/);
      return true;
    };
    await assert.rejects(openBroker({ dir, partitions: 1025 }), refused);
    const broker = tracked(await openBroker({ dir, fsync: 'never' }));
    await assert.rejects(broker.createTopic('wide', { partitions: 1025 }), refused);
    assert.deepEqual(broker.listTopics(), [], 'nothing was created');
    const created = await broker.createTopic('widest', { partitions: 1024 });
    assert.equal(created.partitions.length, 1024);
  });

  it('bounds - publishes beyond the append queue (64 MiB) reject with a retriable BrokerStorageError', async () => {
    const transport = tracked(await embeddedTransport({ dir: freshDirectory(), partitions: 1 }));
    await transport.publish('bulk', messages(1, 'warm-up')); // The topic exists: the calls below append at once.
    // 24 calls of 3 MB each (one append apiece) are queued before the disk can take them.
    const body = new Uint8Array(1_000_000);
    const calls = Array.from({ length: 24 }, (_, call) =>
      transport.publish(
        'bulk',
        Array.from({ length: 3 }, (_, index) => ({ headers: { 'x-id': `${call}-${index}` }, body })),
      ),
    );
    const outcomes = await Promise.allSettled(calls);
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    const stored = outcomes.length - refused.length;
    assert.ok(refused.length > 0, 'some publishes found the queue full');
    assert.ok(stored > 0, 'the queue took what fits');
    for (const outcome of refused) {
      const error = (outcome as PromiseRejectedResult).reason as unknown;
      assert.ok(error instanceof BrokerStorageError, String(error));
      assert.equal(error.retriable, true);
      assert.equal(error.code, 'HERALD_TRANSPORT');
      assert.match(error.message, /queue .*full/);
    }
    // Retrying once the queue drained succeeds.
    await transport.publish('bulk', messages(1, 'retry'));
    const topic = await transport.broker.describeTopic('bulk');
    assert.equal(topic.partitions[0]!.highWatermark, BigInt(1 + 3 * stored + 1));
  });

  it('bounds - a member takes at most inFlightMax 4096', async () => {
    const transport = tracked(await embeddedTransport({ dir: freshDirectory(), partitions: 1 }));
    await assert.rejects(
      transport.subscribe({ topic: 'wide', group: 'g', inFlightMax: 4097 }, async () => {}),
      (error: unknown) =>
        error instanceof ConfigurationError && /from 1 to 4096, got 4097/.test(error.message),
    );
    const subscription = await transport.subscribe(
      { topic: 'wide', group: 'g', inFlightMax: 4096 },
      async () => {},
    );
    await subscription.close();
  });

  it('publish - keyless messages of one call go to one partition, the next call to the next; one append each, split above 4 MiB', async () => {
    const transport = tracked(await embeddedTransport({ dir: freshDirectory(), partitions: 3 }));
    const broker = transport.broker;
    await transport.publish('sticky', messages(10, 'first'));
    await transport.publish('sticky', messages(7, 'second'));
    const counts = async () =>
      (await broker.describeTopic('sticky')).partitions.map((partition) => Number(partition.highWatermark));
    const afterTwo = await counts();
    const first = afterTwo.indexOf(10);
    assert.ok(first >= 0, `one partition holds the first call's 10 messages: ${afterTwo}`);
    assert.equal(afterTwo[(first + 1) % 3], 7, `the next partition holds the second call's 7: ${afterTwo}`);
    const batches = async (partition: number) =>
      (await broker.readBatches('sticky', partition, 0n, 64 * 1024 * 1024)).batchCount;
    assert.equal(await batches(first), 1, "the first call's share is one append");
    // 6 MB for one partition (one key): more than 4 MiB, so it is split into appends under it.
    const large = Array.from({ length: 6 }, (_, index) => ({
      key: 'big',
      headers: { 'x-id': `big-${index}` },
      body: new Uint8Array(1_000_000),
    }));
    const before = await counts();
    await transport.publish('sticky', large);
    const after = await counts();
    const grown = after.findIndex((count, partition) => count - before[partition]! === 6);
    assert.ok(grown >= 0, `all 6 landed on the key's partition: ${before} -> ${after}`);
    const read = await broker.readBatches('sticky', grown, BigInt(before[grown]!), 64 * 1024 * 1024);
    assert.ok(read.batchCount >= 2, `split into ${read.batchCount} appends`);
  });

  it('publish - a lone message over messageBytesMax is refused by its exact UTF-8 size, one at the limit is taken; close waits for running publishes', async () => {
    const broker = tracked(await openBroker({ dir: freshDirectory(), partitions: 2, messageBytesMax: 100 }));
    // "é" is 2 UTF-8 bytes: key 2 + header name 1 + value 40 + body 57 = 100 bytes, 80 UTF-16 units.
    const atLimit = { key: 'k1', headers: { h: 'é'.repeat(20) }, body: new Uint8Array(57) };
    await broker.publish('sized', [atLimit]);
    await assert.rejects(
      broker.publish('sized', [{ ...atLimit, body: new Uint8Array(58) }]),
      (error: unknown) => error instanceof PayloadTooLargeError && error.sizeBytes === 101,
    );
    // A header value that is not a string is refused before anything is appended, as before.
    const notText = { key: 'k', headers: { h: 5 as unknown as string }, body: new Uint8Array(1) };
    await assert.rejects(broker.publish('sized', [notText]), TypeError);
    let settled = 0;
    const running = Array.from({ length: 50 }, (_, index) =>
      broker.publish('sized', [{ key: `k${index}`, headers: {}, body: new Uint8Array(10) }]).finally(() => {
        settled += 1;
      }),
    );
    await broker.close();
    assert.equal(settled, 50, 'close resolved after every publish it found running');
    await Promise.all(running);
  });

  it('bounds - the positions journal is compacted past 4 MiB and on every open', async () => {
    const dir = freshDirectory();
    const options = { dir, partitions: 1, fsync: 'never' as const, groupWindowRecordsMax: 4096 };
    const transport = tracked(await embeddedTransport(options));
    const count = 2000;
    await transport.publish('journal', messages(count, 'j'));
    const delivered: ReceivedMessage[] = [];
    await transport.subscribe({ topic: 'journal', group: 'g', inFlightMax: 4096 }, async (message) => {
      delivered.push(message);
    });
    await eventually(
      () => delivered.length === count,
      () => `${count} deliveries (have ${delivered.length})`,
    );
    // Acking every odd offset, one round each, leaves a gap before each one: every record holds
    // a longer ackedAhead list, so the journal passes 4 MiB after several hundred rounds.
    const journal = path.join(dir, 'group-positions.log');
    const sizes: number[] = [];
    const odd = delivered.filter((message) => BigInt(message.offset) % 2n === 1n);
    for (const message of odd) {
      await message.ack();
      sizes.push(statSync(journal).size);
    }
    const largest = Math.max(...sizes);
    const shrinks = sizes.filter((size, index) => index > 0 && size < sizes[index - 1]!).length;
    assert.ok(largest >= 4 * 1024 * 1024, `the journal reached 4 MiB (largest ${largest} bytes)`);
    assert.ok(shrinks >= 1, 'the journal was compacted');
    assert.ok(largest < 4 * 1024 * 1024 + 64 * 1024, `compacted once past 4 MiB (largest ${largest} bytes)`);
    await transport.close();

    const reopened = tracked(await openBroker(options));
    const records = journalRecords(dir);
    assert.equal(records.length, 1, 'open compacts the journal into one record');
    const group = await reopened.describeGroup('journal', 'g');
    assert.equal(group.partitions[0]!.committed, 0n);
    assert.equal(group.partitions[0]!.ackedAhead.length, odd.length, 'every ack survived compaction');
  });
});
