/**
 * Micro-benchmark helper (the leading `_` keeps it out of `bench/run.ts`'s suites): CPU per
 * one-record `encodeRecordBatch` of a bus event's record, as the broker hands it over, in this
 * checkout and another one in the same process, rounds alternating (docs/benchmarks.md, "The bus
 * event's headers on publish"). The other checkout's encoder is given `[name, value]` pairs made
 * from the header object (as the broker's `toRecord` made them before) unless `object` is given;
 * this one's is given the object. Checks that both store the same bytes, then prints the median
 * and minimum µs per encode of each:
 *
 *   npx node bench/_header-object-encode.ts /path/to/other/checkout [pairs|object] [rounds=21]
 */
import { resolve } from 'node:path';
import { fromCheckout } from './_checkout.ts';

type Codec = typeof import('../packages/log/src/record-batch.ts');
const otherRoot = resolve(process.argv[2] ?? '.');
const otherTakesObject = process.argv[3] === 'object';
const rounds = Number(process.argv[4] ?? 21);
const here = await fromCheckout<Codec>('packages/log/src/record-batch.ts', resolve('.'));
const other = await fromCheckout<Codec>('packages/log/src/record-batch.ts', otherRoot);
const { uuidv7 } = await fromCheckout<typeof import('../packages/bus/src/uuid.ts')>(
  'packages/bus/src/uuid.ts',
  resolve('.'),
);

const CALLS = 100_000;
const body = Buffer.alloc(62, 1);
// Ten distinct times, a hundred events each: the bus's `ce_time` repeats within a millisecond.
const times = Array.from({ length: 10 }, (_, index) => `2026-12-03T07:38:03.12${index}Z`);
const messages = Array.from({ length: 1000 }, (_, n) => {
  const id = uuidv7();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ce_specversion: '1.0',
    ce_id: id,
    ce_source: '/bench',
    ce_type: 'BenchEvent',
    ce_time: times[Math.floor(n / 100)]!,
    ce_partitionkey: `order-${n}`,
    ce_correlationid: id,
    ce_dataversion: '1',
  };
  return { key: Buffer.from(`order-${n}`), headers };
});

function pairs(headers: Record<string, string>): (readonly [string, string])[] {
  const names = Object.keys(headers);
  const result: (readonly [string, string])[] = new Array(names.length);
  for (let index = 0; index < names.length; index++) result[index] = [names[index]!, headers[names[index]!]!];
  return result;
}

function encodeWith(codec: Codec, asObject: boolean, n: number): Buffer {
  const message = messages[n % 1000]!;
  const headers = asObject ? message.headers : pairs(message.headers);
  return codec.encodeRecordBatch([{ key: message.key, value: body, headers, timestampMs: 1 }], {
    timestampMs: 1,
  });
}

for (let n = 0; n < 1000; n++) {
  if (!encodeWith(here, true, n).equals(encodeWith(other, otherTakesObject, n))) {
    throw new Error(`record ${n} is stored differently by the two checkouts`);
  }
}
const sides = [
  {
    name: `${otherRoot} (${otherTakesObject ? 'object' : 'pairs'})`,
    codec: other,
    asObject: otherTakesObject,
    us: [] as number[],
  },
  { name: `${resolve('.')} (object)`, codec: here, asObject: true, us: [] as number[] },
];
for (let round = 0; round < rounds; round++) {
  for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
    const start = process.cpuUsage();
    for (let n = 0; n < CALLS; n++) encodeWith(side.codec, side.asObject, n);
    const used = process.cpuUsage(start);
    side.us.push((used.user + used.system) / CALLS);
  }
}
for (const side of sides) {
  const sorted = [...side.us].sort((a, b) => a - b);
  process.stdout.write(
    `${side.name}: median ${sorted[sorted.length >> 1]!.toFixed(3)} µs, min ${sorted[0]!.toFixed(3)} µs per encode\n`,
  );
}
