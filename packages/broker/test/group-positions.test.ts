import assert from 'node:assert/strict';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { type Broker, BrokerCorruptError, embeddedTransport, openBroker } from '@herald/broker';
import type { ReceivedMessage } from '@herald/bus';
import { type FileSystem, nodeFileSystem } from '@herald/log';
import { eventually } from '@herald/test-support';
import { freshDirectory, messages, tracked } from './support.ts';

/** Bytes of a commit marker (position-journal.ts): tag, CRC, u64 position. */
const MARKER_BYTES = 16;

/** A journal record (`length | CRC | JSON`) holding `value`. */
function journalRecord(value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value));
  const record = Buffer.alloc(8 + payload.byteLength);
  record.writeUInt32BE(payload.byteLength, 0);
  record.writeUInt32BE(crc32(payload), 4);
  payload.copy(record, 8);
  return record;
}

/** Whether `bytes` end with a commit marker. */
function endsWithMarker(bytes: Buffer): boolean {
  return (
    bytes.byteLength >= MARKER_BYTES && bytes.readUInt32BE(bytes.byteLength - MARKER_BYTES) === 0xffffffff
  );
}

/** `file` with bit `bit` of byte `at` flipped. */
function flipBit(file: string, at: number, bit = 0): void {
  const bytes = readFileSync(file);
  bytes.writeUInt8(bytes.readUInt8(at) ^ (1 << bit), at);
  writeFileSync(file, bytes);
}

/** The format field of the journal's first record. */
function firstRecordFormat(file: string): unknown {
  const bytes = readFileSync(file);
  const length = bytes.readUInt32BE(0);
  return (JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as { format: unknown }).format;
}

/** A data directory written by an older broker with a format-2 journal (see its README.md). */
const FORMAT_2_FIXTURE = path.join(import.meta.dirname, 'fixtures', 'journal-format-2');

/** Asserts the positions the format-2 fixture holds, as `broker` reports them. */
async function assertFormat2Positions(broker: Broker): Promise<void> {
  const workers = await broker.describeGroup('orders', 'workers');
  assert.deepEqual(
    workers.partitions.map(({ partition, committed, ackedAhead }) => ({ partition, committed, ackedAhead })),
    [
      { partition: 0, committed: 5n, ackedAhead: [] },
      { partition: 1, committed: 1n, ackedAhead: [2n] },
    ],
  );
  assert.deepEqual(
    await broker.committedOffsetsWithMetadata('orders', 'billing'),
    new Map([
      [0, { offset: 3n, metadata: 'billing-o0 ✓' }],
      [1, { offset: 6n, metadata: '' }],
    ]),
  );
  assert.deepEqual(await broker.committedOffsets('orders', 'audit'), new Map());
  assert.deepEqual(broker.listTopics(), ['orders']);
}

/** Publishes 10 messages to `jobs` (1 partition) and acks them in group `g`, then closes. */
async function ackTen(dir: string): Promise<void> {
  const transport = tracked(await embeddedTransport({ dir, partitions: 1 }));
  await transport.publish('jobs', messages(10, 'j'));
  let acked = 0;
  await transport.subscribe({ topic: 'jobs', group: 'g', inFlightMax: 4 }, async (message) => {
    await message.ack();
    acked += 1;
  });
  await eventually(
    () => acked === 10,
    () => `10 acks (have ${acked})`,
  );
  await transport.close();
}

async function committed(dir: string): Promise<bigint> {
  const transport = tracked(await embeddedTransport({ dir, partitions: 1 }));
  try {
    return (await transport.broker.describeGroup('jobs', 'g')).partitions[0]!.committed;
  } finally {
    await transport.close();
  }
}

describe('group positions', { timeout: 120_000 }, () => {
  it('positions - every group of the broker shares one journal; a torn last append is ignored', async () => {
    const dir = freshDirectory();
    await ackTen(dir);
    const journal = path.join(dir, 'group-positions.log');
    assert.ok(!existsSync(path.join(dir, 'groups', 'jobs', 'g.offsets')), 'no per-group file');
    // A crash in the middle of an append: a header announcing more bytes than were written.
    const torn = Buffer.alloc(20);
    torn.writeUInt32BE(500, 0);
    appendFileSync(journal, torn);
    assert.equal(await committed(dir), 10n);
    // A crash after the file grew but before its bytes were written: zeros.
    appendFileSync(journal, Buffer.alloc(64));
    assert.equal(await committed(dir), 10n);
  });

  it('positions - a damaged record in the middle of the journal is reported, not skipped', async () => {
    const dir = freshDirectory();
    await ackTen(dir);
    const journal = path.join(dir, 'group-positions.log');
    flipBit(journal, 8 + 5, 3); // the first record's JSON; records and markers follow
    await assert.rejects(embeddedTransport({ dir, partitions: 1 }), BrokerCorruptError);
    // A journal of an older broker, without markers: a bad record with more records after it.
    const old = freshDirectory();
    cpSync(FORMAT_2_FIXTURE, old, {
      recursive: true,
      filter: (source) => !/README\.md$|\.gitignore$/.test(source),
    });
    flipBit(path.join(old, 'group-positions.log'), 8 + 5, 3);
    await assert.rejects(openBroker({ dir: old, partitions: 2 }), (error: unknown) => {
      assert.ok(error instanceof BrokerCorruptError);
      assert.match(error.message, /CRC mismatch, followed by more data/);
      return true;
    });
  });

  it('positions - a per-group offsets file of an older broker is adopted, then removed', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 1 }));
    await transport.publish('jobs', messages(10, 'j'));
    await transport.close();
    const legacy = path.join(dir, 'groups', 'jobs', 'g.offsets');
    mkdirSync(path.dirname(legacy), { recursive: true });
    const json = JSON.stringify({
      format: 1,
      topic: 'jobs',
      group: 'g',
      partitions: [{ partition: 0, committed: '4', ackedAhead: [['6', '7']] }],
    });
    writeFileSync(legacy, `${json}\ncrc32 ${crc32(json).toString(16)}\n`);

    const reopened = tracked(await embeddedTransport({ dir, partitions: 1 }));
    assert.ok(!existsSync(legacy));
    const seen: ReceivedMessage[] = [];
    await reopened.subscribe({ topic: 'jobs', group: 'g', inFlightMax: 10 }, async (message) => {
      seen.push(message);
      await message.ack();
    });
    await eventually(
      () => seen.length === 4,
      () => `the 4 unacked messages (have ${seen.length})`,
    );
    await reopened.close();
    assert.deepEqual(seen.map((message) => message.offset).sort(), ['4', '5', '8', '9']);
    assert.equal(await committed(dir), 10n);
  });

  it('positions - a bit flip in the last acknowledged record is reported, not taken for a torn append', async () => {
    const dir = freshDirectory();
    await ackTen(dir);
    const journal = path.join(dir, 'group-positions.log');
    const bytes = readFileSync(journal);
    assert.ok(endsWithMarker(bytes), 'the last round is followed by its commit marker');
    // A bit of the last record's JSON (just before its marker).
    flipBit(journal, bytes.byteLength - MARKER_BYTES - 4, 2);
    await assert.rejects(embeddedTransport({ dir, partitions: 1 }), (error: unknown) => {
      assert.ok(error instanceof BrokerCorruptError);
      assert.match(error.message, /commit marker at byte \d+ says it was synced.*remove it/);
      return true;
    });
  });

  it('positions - a bit flip in the compacted journal of an idle broker is reported', async () => {
    const dir = freshDirectory();
    await ackTen(dir);
    assert.equal(await committed(dir), 10n); // the open compacted the journal into one record
    const journal = path.join(dir, 'group-positions.log');
    const bytes = readFileSync(journal);
    assert.equal(bytes.readUInt32BE(0) + 8 + MARKER_BYTES, bytes.byteLength, 'one record and its marker');
    flipBit(journal, 8 + 10, 5);
    await assert.rejects(embeddedTransport({ dir, partitions: 1 }), BrokerCorruptError);
    // The record's length field, too: the record then looks cut short, but the marker is found.
    const lengthFlipped = freshDirectory();
    await ackTen(lengthFlipped);
    await committed(lengthFlipped);
    flipBit(path.join(lengthFlipped, 'group-positions.log'), 2, 7);
    await assert.rejects(embeddedTransport({ dir: lengthFlipped, partitions: 1 }), BrokerCorruptError);
  });

  it('positions - a bit flip in the last commit marker loses nothing', async () => {
    const dir = freshDirectory();
    await ackTen(dir);
    const journal = path.join(dir, 'group-positions.log');
    flipBit(journal, readFileSync(journal).byteLength - 3, 1);
    assert.equal(await committed(dir), 10n);
  });

  it('positions - a damaged append without a commit marker after it (never acknowledged) is dropped', async () => {
    const dir = freshDirectory();
    await ackTen(dir);
    const journal = path.join(dir, 'group-positions.log');
    const unmarked = journalRecord({
      format: 3,
      ops: [{ topic: 'jobs', group: 'g', partitions: [{ partition: 0, committed: '3', ackedAhead: [] }] }],
    });
    unmarked.writeUInt8(unmarked.readUInt8(20) ^ 4, 20);
    appendFileSync(journal, unmarked);
    assert.equal(await committed(dir), 10n);
  });

  it('positions - an ack resolves only once its record and then its commit marker are durable', async () => {
    const dir = freshDirectory();
    const journalFds = new Set<number>();
    let calls: string[] = [];
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      async open(file, flags, mode) {
        const fd = await nodeFileSystem.open(file, flags, mode);
        if (file.endsWith('group-positions.log')) journalFds.add(fd);
        return fd;
      },
      async close(fd) {
        journalFds.delete(fd);
        await nodeFileSystem.close(fd);
      },
      async writev(fd, buffers, position) {
        if (journalFds.has(fd)) {
          const first = buffers[0]!;
          const marker = new DataView(first.buffer, first.byteOffset).getUint32(0) === 0xffffffff;
          calls.push(`${marker ? 'marker' : 'record'} at ${position}`);
        }
        return nodeFileSystem.writev(fd, buffers, position);
      },
      async fdatasync(fd) {
        await nodeFileSystem.fdatasync(fd);
        if (journalFds.has(fd)) calls.push('fdatasync');
      },
    };
    const broker = tracked(await openBroker({ dir, partitions: 1, fileSystem }));
    await broker.publish('jobs', messages(1, 'j'));
    const held: ReceivedMessage[] = [];
    await broker.subscribe({ topic: 'jobs', group: 'g', inFlightMax: 1 }, async (message) => {
      held.push(message);
    });
    await eventually(
      () => held.length === 1,
      () => 'one delivery',
    );
    const start = readFileSync(path.join(dir, 'group-positions.log')).byteLength;
    calls = [];
    await held[0]!.ack();
    const recordEnd = readFileSync(path.join(dir, 'group-positions.log')).byteLength - MARKER_BYTES;
    assert.deepEqual(calls, [`record at ${start}`, 'fdatasync', `marker at ${recordEnd}`, 'fdatasync']);
    await broker.close();
  });

  it('positions - a format-2 journal of an older broker (no commit markers) is read as it is and rewritten with them', async () => {
    const dir = freshDirectory();
    cpSync(FORMAT_2_FIXTURE, dir, {
      recursive: true,
      filter: (source) => !/README\.md$|\.gitignore$/.test(source),
    });
    const journal = path.join(dir, 'group-positions.log');
    assert.equal(firstRecordFormat(journal), 2);
    const original = readFileSync(journal);
    // Its last record cut short, as a crash in its append would leave it: ignored (topic
    // `payments`, which it deleted, is gone anyway).
    truncateSync(journal, original.byteLength - 5);
    let broker = tracked(await openBroker({ dir, partitions: 2 }));
    await assertFormat2Positions(broker);
    await broker.close();
    assert.equal(firstRecordFormat(journal), 3, 'the open rewrote it in the new format');
    assert.ok(endsWithMarker(readFileSync(journal)));
    broker = tracked(await openBroker({ dir, partitions: 2 }));
    await assertFormat2Positions(broker);
    await broker.close();

    // The whole fixture, untouched.
    const whole = freshDirectory();
    cpSync(FORMAT_2_FIXTURE, whole, {
      recursive: true,
      filter: (source) => !/README\.md$|\.gitignore$/.test(source),
    });
    broker = tracked(await openBroker({ dir: whole, partitions: 2 }));
    await assertFormat2Positions(broker);
    await broker.close();
  });
});
