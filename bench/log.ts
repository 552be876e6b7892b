/**
 * `npm run bench -- log [--quick] [--json]`: durable append throughput of `@herald/log` against
 * the raw limit of this disk, measured in the same run.
 *
 * - Raw limit: a plain Node loop writing 1 MiB batches of 100-byte records, fdatasync after each.
 * - fdatasync rate for small (100-byte) appends: the ceiling for one-record-per-sync durability.
 * - Durable appends (`fsync: 'always'`) of 100-byte records with 1, 16 and 256 concurrent
 *   publishers, each awaiting its append in a loop for a fixed time; plus 256 publishers appending
 *   100-record batches, which shows what batching on the caller side buys.
 * - Ack latency p50/p99 with one outstanding publish, and the time to open an empty directory.
 */

import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openPartition, type RecordInput } from '../packages/log/src/index.ts';

const RECORD_BYTES = 100;
const MEBIBYTE = 1024 * 1024;

interface Row {
  readonly name: string;
  readonly recordsPerSecond?: number;
  readonly ratioToRaw?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly value?: number;
  readonly unit?: string;
  readonly target?: string;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/** Plain loop: 1 MiB of 100-byte records per write, fdatasync after each write. */
function measureRaw(directory: string, durationMs: number): number {
  const file = path.join(directory, 'raw.bin');
  const fd = fs.openSync(file, 'w');
  const recordsPerWrite = Math.floor(MEBIBYTE / RECORD_BYTES);
  const buffer = Buffer.alloc(recordsPerWrite * RECORD_BYTES, 7);
  let position = 0;
  let writes = 0;
  const started = performance.now();
  // Bounded by time and by a 2 GiB file.
  while (performance.now() - started < durationMs && position < 2 * 1024 * MEBIBYTE) {
    fs.writeSync(fd, buffer, 0, buffer.length, position);
    fs.fdatasyncSync(fd);
    position += buffer.length;
    writes++;
  }
  const seconds = (performance.now() - started) / 1000;
  fs.closeSync(fd);
  fs.unlinkSync(file);
  return (writes * recordsPerWrite) / seconds;
}

/** Plain loop: one 100-byte write plus fdatasync per iteration. */
function measureSmallSyncs(directory: string, durationMs: number): number {
  const file = path.join(directory, 'small.bin');
  const fd = fs.openSync(file, 'w');
  const buffer = Buffer.alloc(RECORD_BYTES, 7);
  let position = 0;
  let syncs = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs && syncs < 10_000_000) {
    fs.writeSync(fd, buffer, 0, buffer.length, position);
    fs.fdatasyncSync(fd);
    position += buffer.length;
    syncs++;
  }
  const seconds = (performance.now() - started) / 1000;
  fs.closeSync(fd);
  fs.unlinkSync(file);
  return syncs / seconds;
}

async function measureAppends(
  directory: string,
  publishers: number,
  recordsPerAppend: number,
  durationMs: number,
): Promise<{ recordsPerSecond: number; latenciesMs: number[] }> {
  const partition = await openPartition({ directory, fsync: 'always' });
  const value = Buffer.alloc(RECORD_BYTES, 1);
  const records: RecordInput[] = Array.from({ length: recordsPerAppend }, () => ({ value }));
  const latenciesMs: number[] = [];
  let appended = 0;
  const stopAt = performance.now() + durationMs;
  const publisher = async (): Promise<void> => {
    // Bounded by time.
    while (performance.now() < stopAt) {
      const started = performance.now();
      await partition.append(records);
      if (publishers === 1) {
        latenciesMs.push(performance.now() - started);
      }
      appended += recordsPerAppend;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: publishers }, publisher));
  const seconds = (performance.now() - started) / 1000;
  await partition.close();
  await rm(directory, { recursive: true, force: true });
  return { recordsPerSecond: appended / seconds, latenciesMs };
}

async function measureOpenEmpty(root: string, repetitions: number): Promise<number[]> {
  const timesMs: number[] = [];
  for (let index = 0; index < repetitions; index++) {
    const directory = path.join(root, `empty-${index}`);
    fs.mkdirSync(directory);
    const started = performance.now();
    const partition = await openPartition({ directory });
    timesMs.push(performance.now() - started);
    await partition.close();
  }
  return timesMs.sort((left, right) => left - right);
}

function format(value: number | undefined, digits = 0): string {
  return value === undefined
    ? ''
    : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { quick: { type: 'boolean' }, json: { type: 'boolean' } } });
  const quick = values.quick === true;
  const durationMs = quick ? 500 : 3000;
  const root = await mkdtemp(path.join(tmpdir(), 'herald-log-bench-'));
  try {
    const raw = measureRaw(root, durationMs);
    const smallSyncs = measureSmallSyncs(root, durationMs);
    const rows: Row[] = [
      { name: 'raw: 1 MiB writes of 100 B records + fdatasync', recordsPerSecond: raw, ratioToRaw: 1 },
      { name: 'raw: 100 B write + fdatasync', value: smallSyncs, unit: 'syncs/s' },
    ];
    let latencies: number[] = [];
    for (const [publishers, recordsPerAppend] of [
      [1, 1],
      [16, 1],
      [256, 1],
      [256, 100],
    ] as const) {
      const result = await measureAppends(
        path.join(root, `p${publishers}-${recordsPerAppend}`),
        publishers,
        recordsPerAppend,
        durationMs,
      );
      if (publishers === 1) {
        latencies = result.latenciesMs.sort((left, right) => left - right);
      }
      rows.push({
        name: `log: ${publishers} publisher${publishers === 1 ? '' : 's'}, ${recordsPerAppend} record${recordsPerAppend === 1 ? '' : 's'} per append`,
        recordsPerSecond: result.recordsPerSecond,
        ratioToRaw: result.recordsPerSecond / raw,
        ...(publishers === 256 && recordsPerAppend === 1 ? { target: '>= 70% of raw' } : {}),
      });
    }
    rows.push({
      name: 'log: ack latency, 1 outstanding publish',
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      target: 'p99 <= 1.5 ms',
    });
    const openTimes = await measureOpenEmpty(root, quick ? 5 : 20);
    rows.push({
      name: 'log: open an empty directory',
      p50Ms: percentile(openTimes, 0.5),
      p99Ms: openTimes.at(-1),
      target: '<= 50 ms',
    });
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify({ suite: 'log', quick, durationMs, rows }, null, 2)}\n`);
      return;
    }
    const lines = [
      `| measurement (${durationMs} ms each) | records/s | ratio to raw | p50 ms | p99/max ms | other | target |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
      ...rows.map(
        (row) =>
          `| ${row.name} | ${format(row.recordsPerSecond)} | ${row.ratioToRaw === undefined ? '' : `${format(row.ratioToRaw * 100, 1)}%`} | ${format(row.p50Ms, 3)} | ${format(row.p99Ms, 3)} | ${row.value === undefined ? '' : `${format(row.value)} ${row.unit}`} | ${row.target ?? ''} |`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
