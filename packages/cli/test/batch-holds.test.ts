/**
 * `FetchOptions.batchHolds` on a data directory, and `readTopic`'s `batchHolds`/`onSkipped`: a
 * batch without the bytes is left out undecoded and counted; a batch with them, and every batch
 * without the option, is read whole.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBroker } from '@herald/broker';
import { temporaryDirectory } from '@herald/test-support';
import { readTopic, targetOfBroker } from '../src/internal.ts';

const text = (value: string) => new TextEncoder().encode(value);

test('batchHolds - batches without the bytes are skipped and counted; the rest are read', {
  timeout: 60_000,
}, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-batch-holds-'), partitions: 1 });
  const target = targetOfBroker(broker);
  try {
    await target.createTopic('t', 1);
    // Three publishes, three stored batches: offsets 0–2, 3–5 (one holds "needle" in a header), 6–8.
    const batch = (values: string[], headers: Record<string, string> = {}) =>
      target.publish(
        't',
        values.map((value) => ({ key: undefined, headers, value: text(value) })),
      );
    await batch(['a', 'b', 'c']);
    await batch(['d', 'e', 'f'], { note: 'the needle' });
    await batch(['g', 'h-marker', 'i']);

    const all = await target.fetch('t', 0, 0n, 0);
    assert.equal(all.records.length, 9, 'without the option every record');
    assert.equal(all.skippedRecords, undefined);
    const held = await target.fetch('t', 0, 0n, 0, { batchHolds: [text('needle')] });
    assert.deepEqual(
      held.records.map((record) => Number(record.offset)),
      [3, 4, 5],
    );
    assert.equal(held.skippedRecords, 6);
    assert.equal(held.nextOffset, 9n);
    const fromMiddle = await target.fetch('t', 0, 1n, 0, { batchHolds: [text('nowhere')] });
    assert.equal(fromMiddle.skippedRecords, 8, 'only offsets at or after the one asked for count');
    const either = await target.fetch('t', 0, 0n, 0, { batchHolds: [text('nowhere'), text('h-marker')] });
    assert.deepEqual(
      either.records.map((record) => Number(record.offset)),
      [6, 7, 8],
      'a batch holding any of the byte strings is read',
    );

    let skipped = 0;
    const read: number[] = [];
    await readTopic({
      target,
      topic: 't',
      start: new Map([[0, 0n]]),
      follow: false,
      signal: new AbortController().signal,
      batchHolds: () => [text('needle')],
      onSkipped: (records) => {
        skipped += records;
        return true;
      },
      onRecord: (record) => {
        read.push(Number(record.offset));
        return true;
      },
    });
    assert.deepEqual([read, skipped], [[3, 4, 5], 6]);
  } finally {
    await broker.close();
  }
});
