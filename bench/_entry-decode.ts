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

/** The record the broker hands the log for the `n`th bus event. */
function record(n: number) {
  const id = uuidv7();
  return {
    key: Buffer.from(`order-${n}`),
    value,
    timestampMs: 1,
    headers: [
      ['content-type', 'application/json'],
      ['ce_specversion', '1.0'],
      ['ce_id', id],
      ['ce_source', '/bench'],
      ['ce_type', 'BenchEvent'],
      ['ce_time', new Date(1_764_000_000_000 + Math.floor(n / 8)).toISOString()],
      ['ce_partitionkey', `order-${n}`],
      ['ce_correlationid', id],
      ['ce_dataversion', '1'],
    ] as const,
  };
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
let best = Number.POSITIVE_INFINITY;
const reads = 100;
for (let round = 0; round < 12; round++) {
  const start = process.cpuUsage();
  for (let r = 0; r < reads; r++) {
    const entries = new ReadEntries(read, 0, 0n);
    for (let entry = entries.next(); entry !== undefined; entry = entries.next())
      kept += entry.headers.ce_id!.length;
  }
  const used = process.cpuUsage(start);
  best = Math.min(best, (used.user + used.system) / (reads * BATCHES * RECORDS_PER_BATCH));
}
process.stdout.write(
  `entries from stored batches, 9 bus headers: ${best.toFixed(3)} µs CPU / record (${kept > 0 ? 'ok' : 'none'})\n`,
);
