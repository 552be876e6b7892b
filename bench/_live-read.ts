/**
 * CPU per record of what a caught-up group does with one read (the leading `_` keeps it out of
 * `bench/run.ts`'s suites): the reader's check of each stored batch (`findRecordBatchProblem`:
 * length, magic, CRC-32C, dense offsets) and the group's decode of the batches into its window
 * entries (`ReadEntries`). The read holds 64 batches of one 100-byte record each, as a live group
 * reads them when every publish is a batch of its own (docs/benchmarks.md, "The live end-to-end
 * path"). Prints six rounds of 20,000 reads.
 *
 *   npx node bench/_live-read.ts
 */
import { encodeRecordBatch, findRecordBatchProblem } from '@herald/log';
import { ReadEntries } from '../packages/broker/src/group-entry.ts';

const body = new Uint8Array(100).fill(7);
const BATCHES = 64;
const encoded = Array.from({ length: BATCHES }, (_, i) =>
  encodeRecordBatch([{ key: new TextEncoder().encode(`k-${i}`), value: body, headers: [], timestampMs: 1 }], {
    baseOffset: BigInt(i),
  }),
);
const batches = Buffer.concat(encoded);
const sizes = encoded.map((e) => e.length);
const read = {
  batches,
  batchCount: BATCHES,
  nextOffset: BigInt(BATCHES),
  highWatermark: BigInt(BATCHES),
  logStartOffset: 0n,
};
let sink = 0;
for (let r = 0; r < 6; r++) {
  const rounds = 20000;
  const s = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    let at = 0;
    for (const size of sizes) {
      if (findRecordBatchProblem(batches, at, at + size) !== undefined) throw new Error('x');
      at += size;
    }
    const entries = new ReadEntries(read, 0, 0n);
    for (let e = entries.next(); e !== undefined; e = entries.next()) sink += e.body.length;
  }
  const c = process.cpuUsage(s);
  console.log(`${((c.user + c.system) / (rounds * BATCHES)).toFixed(3)} µs/record (check + decode)`);
  if (sink === 0) throw new Error('nothing decoded');
}
