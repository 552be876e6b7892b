/**
 * The broker's internal invariants fire: the helper itself, offsets handed out by the publish
 * path, and a consumer group's stored position against the log's end. The broken states come from
 * in-memory partitions that misbehave on purpose (a real log never does).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReceivedMessage } from '@herald/bus';
import { InvariantError } from '@herald/errors';
import { eventually } from '@herald/test-support';
import { ConsumerGroup } from '../src/consumer-group.ts';
import { invariant } from '../src/invariant.ts';
import type { PartitionLog } from '../src/partition-log.ts';
import { appendMessages } from '../src/publish-path.ts';
import { storedRead, type TestRecord } from './support/stored-read.ts';

/** An in-memory partition of `count` records whose offsets a test can break through `broken`. */
function fakeLog(count: number) {
  const records: TestRecord[] = Array.from({ length: count }, (_, index) => ({
    offset: BigInt(index),
    timestampMs: 0,
    key: null,
    value: new Uint8Array(1),
    headers: [],
  }));
  const broken = { highWatermark: BigInt(count), baseOffsetHandedOut: undefined as bigint | undefined };
  const log: PartitionLog = {
    get highWatermark() {
      return broken.highWatermark;
    },
    logStartOffset: 0n,
    appendTo: (appended, waiter) => {
      const baseOffset = broken.baseOffsetHandedOut ?? broken.highWatermark;
      broken.highWatermark = baseOffset + BigInt(appended.length);
      queueMicrotask(() => waiter.appended(baseOffset, appended.length));
    },
    read: async (offset) =>
      storedRead([records.filter((record) => record.offset >= offset)], broken.highWatermark),
    offsetForTimestamp: async () => undefined,
    onAppend: () => () => {},
    close: async () => {},
  };
  return { log, broken };
}

const message = { headers: {}, body: new Uint8Array(1) };

describe('broker invariants', { timeout: 60_000 }, () => {
  it('invariants - the helper throws an InvariantError naming the broker and the statement, and passes when it holds', () => {
    invariant(1n <= 2n, 'offsets grow');
    assert.throws(
      () => invariant(false, 'offsets grow'),
      (error: unknown) =>
        error instanceof InvariantError &&
        error.code === 'HERALD_INVARIANT_VIOLATED' &&
        /invariant violated: @herald\/broker: offsets grow/.test(error.message),
    );
  });

  it('invariants - the publish path refuses offsets handed out below the high watermark (an offset given twice)', async () => {
    const { log, broken } = fakeLog(0);
    const target = { metadata: { name: 'orders' }, logs: [log], nextKeylessPartition: 0 };
    await appendMessages(target, [message, message], [1, 1]);
    assert.equal(log.highWatermark, 2n);
    broken.baseOffsetHandedOut = 1n; // the log hands offset 1 out again
    await assert.rejects(appendMessages(target, [message], [1]), (error: unknown) => {
      assert.ok(error instanceof InvariantError, `an InvariantError, got ${String(error)}`);
      assert.match(
        error.message,
        /at or above the high watermark it started from \(got 1, high watermark was 2\)/,
      );
      return true;
    });
  });

  it('invariants - a consumer group never stores a position past the high watermark', async () => {
    const { log, broken } = fakeLog(4);
    const stored: bigint[] = [];
    const group = new ConsumerGroup(
      { name: 'orders', logs: [log] },
      'g',
      undefined,
      async (position) => {
        stored.push(position().get(0)!.committed);
      },
      { windowRecordsMax: 16, windowBytesMax: 1024, fetchBytesMax: 1024, visibilityTimeoutMs: 60_000 },
      (error) => assert.fail(String(error)),
    );
    const delivered: ReceivedMessage[] = [];
    group.join(async (received) => {
      delivered.push(received);
    }, 8);
    try {
      await eventually(
        () => delivered.length === 4,
        () => `4 deliveries (have ${delivered.length})`,
      );
      await delivered[0]!.ack();
      assert.deepEqual(stored, [1n]);
      // The log's end moves back under the group (a real log never truncates while open).
      broken.highWatermark = 1n;
      await delivered[1]!.ack();
      assert.fail('the ack stored a position past the high watermark');
    } catch (error) {
      assert.ok(error instanceof InvariantError, `an InvariantError, got ${String(error)}`);
      assert.match(error.message, /is at most the high watermark \(2 > 1\)/);
      assert.deepEqual(stored, [1n], 'the broken position was not stored');
    } finally {
      await group.close();
    }
  });
});
