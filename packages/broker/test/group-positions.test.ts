import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { BrokerCorruptError, embeddedTransport } from '@herald/broker';
import type { ReceivedMessage } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { freshDirectory, messages, tracked } from './support.ts';

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
    const bytes = readFileSync(journal);
    const payload = Buffer.from(JSON.stringify({ format: 1, ops: [] }));
    const valid = Buffer.alloc(8 + payload.byteLength);
    valid.writeUInt32BE(payload.byteLength, 0);
    valid.writeUInt32BE(crc32(payload), 4);
    payload.copy(valid, 8);
    bytes.writeUInt8(bytes.readUInt8(bytes.byteLength - 3) ^ 0xff, bytes.byteLength - 3); // damage the last record, then put a valid one after it
    writeFileSync(journal, Buffer.concat([bytes, valid]));
    await assert.rejects(embeddedTransport({ dir, partitions: 1 }), BrokerCorruptError);
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
});
