/**
 * Micro-benchmark helper (the leading `_` keeps it out of `bench/run.ts`'s suites): CPU per
 * one-record `encodeRecordBatch` with the 9 headers the bus sets on an event, and per `uuidv7`
 * with its text read four times (as the log's header encoder reads `ce_id` and
 * `ce_correlationid`). Prints the minimum over rounds. Give another checkout's root to compare
 * (docs/benchmarks.md, "The publish path, third pass"):
 *
 *   npx node bench/_header-encode.ts [root=.]
 */
import { busEventRecord, cpuPerCall } from './_bus-event-record.ts';
import { checkoutRoot, fromCheckout } from './_checkout.ts';

const { encodeRecordBatch } = await fromCheckout<typeof import('../packages/log/src/record-batch.ts')>(
  'packages/log/src/record-batch.ts',
);
const { uuidv7 } =
  await fromCheckout<typeof import('../packages/bus/src/uuid.ts')>('packages/bus/src/uuid.ts');

const TIME = '2026-12-03T07:38:03.123Z';
const value = Buffer.alloc(62, 1);

const records = Array.from({ length: 1000 }, (_, n) => busEventRecord(n, uuidv7(), TIME, value));
const encodeUs = cpuPerCall((n) => encodeRecordBatch([records[n % 1000]!], { timestampMs: 1 }), 400_000, 10);
let sink = 0;
const uuidUs = cpuPerCall(
  () => {
    const id = uuidv7();
    for (let read = 0; read < 4; read++)
      for (let index = 0; index < id.length; index++) sink += id.charCodeAt(index);
  },
  500_000,
  5,
);
process.stdout.write(
  `${checkoutRoot}: encodeRecordBatch, 1 record, 9 headers: ${encodeUs.toFixed(3)} µs; uuidv7 + 4 reads: ${uuidUs.toFixed(3)} µs (${sink > 0 ? 'ok' : ''})\n`,
);
