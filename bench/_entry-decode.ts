/**
 * Micro-benchmark helper (the leading `_` keeps it out of `bench/run.ts`'s suites): CPU per record
 * of a consumer group's window entries built from stored batches (`ReadEntries`, the broker's
 * delivery side), for records carrying the 9 headers the bus sets on an event: batches of 64
 * records, a new `ce_time` every 8 records, a unique id per record. Prints the minimum over
 * rounds. Give another checkout's root to compare (docs/benchmarks.md, "The bus's CPU per
 * message over the transport's"):
 *
 *   npx node bench/_entry-decode.ts [root=.]
 */
import { busEventRecord, cpuPerCall } from './_bus-event-record.ts';
import { fromCheckout } from './_checkout.ts';

const { encodeRecordBatch } = await fromCheckout<typeof import('../packages/log/src/record-batch.ts')>(
  'packages/log/src/record-batch.ts',
);
const { ReadEntries } = await fromCheckout<typeof import('../packages/broker/src/group-entry.ts')>(
  'packages/broker/src/group-entry.ts',
);
const { uuidv7 } =
  await fromCheckout<typeof import('../packages/bus/src/uuid.ts')>('packages/bus/src/uuid.ts');

const RECORDS_PER_BATCH = 64;
const BATCHES = 64;
const value = Buffer.from(JSON.stringify({ id: 'order-1', amount: 1, note: 'benchmark event' }));

/** The `n`th bus event: a unique id, a new `ce_time` every 8 records. */
function record(n: number) {
  return busEventRecord(n, uuidv7(), new Date(1_764_000_000_000 + Math.floor(n / 8)).toISOString(), value);
}

const parts: Buffer[] = [];
for (let batch = 0; batch < BATCHES; batch++) {
  const records = Array.from({ length: RECORDS_PER_BATCH }, (_, n) => record(batch * RECORDS_PER_BATCH + n));
  parts.push(encodeRecordBatch(records, { timestampMs: 1, baseOffset: BigInt(batch * RECORDS_PER_BATCH) }));
}
const read = {
  batches: Buffer.concat(parts),
  batchCount: BATCHES,
  nextOffset: BigInt(BATCHES * RECORDS_PER_BATCH),
  highWatermark: BigInt(BATCHES * RECORDS_PER_BATCH),
  logStartOffset: 0n,
};

let kept = 0;
const reads = 100;
const best =
  cpuPerCall(
    () => {
      const entries = new ReadEntries(read, 0, 0n);
      for (let entry = entries.next(); entry !== undefined; entry = entries.next())
        kept += entry.headers.ce_id!.length;
    },
    reads,
    12,
  ) /
  (BATCHES * RECORDS_PER_BATCH);
process.stdout.write(
  `entries from stored batches, 9 bus headers: ${best.toFixed(3)} µs CPU / record (${kept > 0 ? 'ok' : 'none'})\n`,
);
