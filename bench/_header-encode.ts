/**
 * Micro-benchmark helper (the leading `_` keeps it out of `bench/run.ts`'s suites): CPU per
 * one-record `encodeRecordBatch` with the 9 headers the bus sets on an event, and per `uuidv7`
 * with its text read four times (as the log's header encoder reads `ce_id` and
 * `ce_correlationid`). Prints the minimum over rounds. Give another checkout's root to compare
 * (docs/benchmarks.md, "The publish path, third pass"):
 *
 *   npx node bench/_header-encode.ts [root=.]
 */
import { checkoutRoot, fromCheckout } from './_checkout.ts';

const { encodeRecordBatch } = await fromCheckout<typeof import('../packages/log/src/record-batch.ts')>(
  'packages/log/src/record-batch.ts',
);
const { uuidv7 } =
  await fromCheckout<typeof import('../packages/bus/src/uuid.ts')>('packages/bus/src/uuid.ts');

const TYPE = 'BenchEvent';
const SOURCE = '/bench';
const TIME = '2026-12-03T07:38:03.123Z';
const value = Buffer.alloc(62, 1);

/** The record the broker hands the log for one bus event, with `id` as its id. */
function record(id: string, n: number) {
  return {
    key: Buffer.from(`order-${n}`),
    value,
    timestampMs: 1,
    headers: [
      ['content-type', 'application/json'],
      ['ce_specversion', '1.0'],
      ['ce_id', id],
      ['ce_source', SOURCE],
      ['ce_type', TYPE],
      ['ce_time', TIME],
      ['ce_partitionkey', `order-${n}`],
      ['ce_correlationid', id],
      ['ce_dataversion', '1'],
    ] as const,
  };
}

/** Minimum CPU µs per call of `step` over `rounds` rounds of `calls` calls. */
function cpuPerCall(step: (n: number) => void, calls: number, rounds: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const start = process.cpuUsage();
    for (let n = 0; n < calls; n++) step(n);
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / calls);
  }
  return best;
}

const records = Array.from({ length: 1000 }, (_, n) => record(uuidv7(), n));
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
