/**
 * `npm run bench -- log [--quick] [--json]`: durable append throughput of `@herald/log` against
 * the raw limit of this disk, measured in the same run, next to the physical bound of each case.
 *
 * - Raw limit: a plain Node loop writing 1 MiB batches of 100-byte records, fdatasync after each.
 * - Durable appends (`fsync: 'always'`) of 100-byte records by P concurrent publishers, each
 *   awaiting its append of R records in a loop for a fixed time: 1, 16 and 256 publishers with one
 *   record, and 256 publishers with 10 and 100 records (`append` of a batch is the realistic
 *   high-throughput path).
 * - Ack latency p50/p99 with one outstanding publish, and the time to open an empty directory.
 *
 * Physical bound of a row: a publisher's append is acknowledged only after a sync that started
 * after its write, and each publisher has one append outstanding, so at most P appends ride one
 * sync: records/s <= P x R x syncs/s, where syncs/s is measured here by a plain loop writing the
 * bytes of P such appends and fdatasyncing after each write. Nor can the log store bytes faster
 * than the raw loop: records/s <= raw bytes/s / stored bytes per record (the RecordBatch header
 * and per-record framing count). The bound is the smaller of the two.
 */

import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeRecordBatch, openPartition, type RecordInput } from '../packages/log/src/index.ts';
import { format, parseBenchArgs, percent, percentile } from './_common.ts';

const RECORD_BYTES = 100;
const MEBIBYTE = 1024 * 1024;
/** Above this many bytes per sync the byte-rate bound dominates; no sync rate is measured. */
const SYNC_RATE_BYTES_MAX = MEBIBYTE;
const CASES = [
  [1, 1],
  [16, 1],
  [256, 1],
  [256, 10],
  [256, 100],
] as const;

interface Row {
  readonly name: string;
  readonly recordsPerSecond?: number;
  readonly ratioToRaw?: number;
  /** Physical bound of this case in records/s (see the module comment). */
  readonly boundRecordsPerSecond?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly value?: number;
  readonly unit?: string;
  readonly target?: string;
}

/** Plain loop: 1 MiB of 100-byte records per write, fdatasync after each write. */
function measureRaw(directory: string, durationMs: number): number {
  const recordsPerWrite = Math.floor(MEBIBYTE / RECORD_BYTES);
  return measureSyncRate(directory, recordsPerWrite * RECORD_BYTES, durationMs) * recordsPerWrite;
}

/** Plain loop: one write of `bytes` bytes at the end of a file plus fdatasync; returns syncs/s. */
function measureSyncRate(directory: string, bytes: number, durationMs: number): number {
  const file = path.join(directory, 'sync-rate.bin');
  const fd = fs.openSync(file, 'w');
  const buffer = Buffer.alloc(bytes, 7);
  let position = 0;
  let syncs = 0;
  const started = performance.now();
  // Bounded by time and by a 2 GiB file.
  while (performance.now() - started < durationMs && position < 2 * 1024 * MEBIBYTE) {
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

function recordsOf(count: number): RecordInput[] {
  const value = Buffer.alloc(RECORD_BYTES, 1);
  return Array.from({ length: count }, () => ({ value }));
}

/**
 * What bounds P publishers appending R records each (see the module comment): the stored bytes
 * per record, and the sync rate for a write of P such appends (unless that write is above
 * {@link SYNC_RATE_BYTES_MAX}, where the byte rate dominates).
 */
export function measureSyncBound(
  directory: string,
  publishers: number,
  recordsPerAppend: number,
  durationMs: number,
): { syncsPerSecond: number | undefined; storedBytesPerRecord: number } {
  const batchBytes = encodeRecordBatch(recordsOf(recordsPerAppend)).length;
  const syncBytes = publishers * batchBytes;
  return {
    syncsPerSecond:
      syncBytes > SYNC_RATE_BYTES_MAX ? undefined : measureSyncRate(directory, syncBytes, durationMs),
    storedBytesPerRecord: batchBytes / recordsPerAppend,
  };
}

async function measureAppends(
  directory: string,
  publishers: number,
  recordsPerAppend: number,
  durationMs: number,
): Promise<{ recordsPerSecond: number; latenciesMs: number[] }> {
  const partition = await openPartition({ directory, fsync: 'always' });
  const records = recordsOf(recordsPerAppend);
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

function caseName(publishers: number, recordsPerAppend: number): string {
  return `log: ${publishers} publisher${publishers === 1 ? '' : 's'}, ${recordsPerAppend} record${recordsPerAppend === 1 ? '' : 's'} per append`;
}

interface MeasuredCase {
  readonly publishers: number;
  readonly recordsPerAppend: number;
  readonly recordsPerSecond: number;
  readonly latenciesMs: number[];
  readonly syncsPerSecond: number | undefined;
  readonly storedBytesPerRecord: number;
}

async function measureCases(root: string, durationMs: number): Promise<MeasuredCase[]> {
  const measured: MeasuredCase[] = [];
  for (const [publishers, recordsPerAppend] of CASES) {
    const bound = measureSyncBound(root, publishers, recordsPerAppend, durationMs / 2);
    const result = await measureAppends(
      path.join(root, `p${publishers}-${recordsPerAppend}`),
      publishers,
      recordsPerAppend,
      durationMs,
    );
    measured.push({ publishers, recordsPerAppend, ...result, ...bound });
  }
  return measured;
}

/** A table row for a measured case against the raw limit `raw` (records/s). */
function caseRow(measured: MeasuredCase, raw: number): Row {
  const { publishers, recordsPerAppend, recordsPerSecond, syncsPerSecond, storedBytesPerRecord } = measured;
  const byteBound = (raw * RECORD_BYTES) / storedBytesPerRecord;
  const syncBound =
    syncsPerSecond === undefined ? Number.POSITIVE_INFINITY : publishers * recordsPerAppend * syncsPerSecond;
  return {
    name: caseName(publishers, recordsPerAppend),
    recordsPerSecond,
    ratioToRaw: recordsPerSecond / raw,
    boundRecordsPerSecond: Math.min(byteBound, syncBound),
    ...(syncsPerSecond === undefined
      ? {}
      : {
          value: syncsPerSecond,
          unit: `syncs/s of ${format(publishers * recordsPerAppend * storedBytesPerRecord)} B`,
        }),
    ...(publishers === 256 && recordsPerAppend === 1 ? { target: '>= 70% of raw' } : {}),
  };
}

function printTable(rows: readonly Row[], raw: number, durationMs: number): void {
  const lines = [
    `| measurement (${durationMs} ms each) | records/s | ratio to raw | bound records/s (ratio to raw) | of bound | p50 ms | p99/max ms | other | target |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((row) => {
      const bound =
        row.boundRecordsPerSecond === undefined
          ? ''
          : `${format(row.boundRecordsPerSecond)} (${percent(row.boundRecordsPerSecond / raw)})`;
      const ofBound =
        row.boundRecordsPerSecond === undefined || row.recordsPerSecond === undefined
          ? undefined
          : row.recordsPerSecond / row.boundRecordsPerSecond;
      return `| ${row.name} | ${format(row.recordsPerSecond)} | ${percent(row.ratioToRaw)} | ${bound} | ${percent(ofBound)} | ${format(row.p50Ms, 3)} | ${format(row.p99Ms, 3)} | ${row.value === undefined ? '' : `${format(row.value)} ${row.unit}`} | ${row.target ?? ''} |`;
    }),
  ];
  const target = rows.find((row) => row.target === '>= 70% of raw');
  const reachable =
    target?.boundRecordsPerSecond === undefined ? undefined : target.boundRecordsPerSecond / raw;
  lines.push(
    '',
    'bound = min(P x R x syncs/s for a write of P appends, raw bytes/s / stored bytes per record): each publisher awaits one append, so at most P appends ride one sync.',
  );
  if (reachable !== undefined) {
    lines.push(
      `70% of raw with 256 single-record publishers is ${reachable >= 0.7 ? 'reachable' : 'NOT reachable'} on this disk: the bound is ${percent(reachable)} of raw.`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const durationMs = quick ? 500 : 3000;
  const root = await mkdtemp(path.join(tmpdir(), 'herald-log-bench-'));
  try {
    // The disk's speed drifts (shared or throttled volumes): raw is measured before and after the
    // log cases, and the faster of the two is the denominator, so a slow spell cannot flatter the log.
    const rawBefore = measureRaw(root, durationMs / 2);
    const cases = await measureCases(root, durationMs);
    const rawAfter = measureRaw(root, durationMs / 2);
    const raw = Math.max(rawBefore, rawAfter);
    const rows: Row[] = [
      {
        name: 'raw: 1 MiB writes of 100 B records + fdatasync (faster of before/after)',
        recordsPerSecond: raw,
        ratioToRaw: 1,
        value: Math.min(rawBefore, rawAfter),
        unit: 'records/s the other time',
      },
      ...cases.map((measured) => caseRow(measured, raw)),
    ];
    const latencies = cases[0]!.latenciesMs.sort((left, right) => left - right);
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
    if (json) {
      process.stdout.write(`${JSON.stringify({ suite: 'log', quick, durationMs, rows }, null, 2)}\n`);
      return;
    }
    printTable(rows, raw, durationMs);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
