/**
 * Crash-cycle harness shared by `test/crash.test.ts` (50 cycles in CI) and `scripts/soak-log.ts`
 * (1000+ cycles). Each cycle spawns `test/fixtures/crash-child.ts`, which appends with
 * `fsync: 'always'` from several concurrent appenders and prints every acknowledged batch (base
 * offset, record count, content hash); the harness SIGKILLs it at a seeded random moment, reopens
 * the partition in this process and checks that every acknowledged record is present and
 * byte-identical, offsets are dense, CRCs valid, and nothing at or below a previously verified high
 * watermark was lost. The next cycle continues appending to the same directory.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { withDeadline } from '@herald/conformance';
import { decodeRecordBatchRecords, type LogRecord, openPartition, recordBatchSize } from '../../src/index.ts';

/** Options of {@link runCrashCycles}. */
export interface CrashRunOptions {
  /** Number of kill/reopen cycles. */
  readonly cycles: number;
  /** Seed of every random choice (kill moments, child workloads). */
  readonly seed: number;
  /** Partition directory (reused across cycles). */
  readonly directory: string;
  /** Receives one progress line per cycle. */
  readonly progress?: (line: string) => void;
}

/** What a run verified. */
export interface CrashRunSummary {
  readonly cycles: number;
  readonly seed: number;
  /** Acknowledged batches reported by the children. */
  readonly acknowledgedBatches: number;
  /** Records in those batches. */
  readonly acknowledgedRecords: number;
  /** Acknowledged batches found and compared byte for byte (counted once per cycle they were checked). */
  readonly verifiedBatches: number;
  /** Cycles whose recovery cut a torn tail. */
  readonly truncations: number;
  /** Cycles killed before the child reported ready (during start-up or recovery). */
  readonly killsDuringOpen: number;
  /** High watermark after the last cycle. */
  readonly highWatermark: bigint;
  /** Wall time of the run. */
  readonly elapsedMs: number;
}

/** Options the child and the verifier both use, so segments roll and retention runs during the test. */
export const CRASH_PARTITION_OPTIONS = {
  segmentBytesMax: 256 * 1024,
  indexIntervalBytes: 1024,
  checkpointIntervalMs: 40,
} as const;

/** Retention the child applies, keeping the verified data small so each cycle stays fast. */
export const CRASH_RETENTION_BYTES = 1024 * 1024;

/** Small seeded PRNG (mulberry32): deterministic choices from a printed seed. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

interface HashableRecord {
  readonly key?: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers?: readonly (readonly [string, Uint8Array | null])[];
  readonly timestampMs?: number;
}

/** SHA-256 over everything a record carries; the child and the verifier must agree on it. */
export function hashRecords(records: readonly HashableRecord[]): string {
  const hash = createHash('sha256');
  const field = (bytes: Uint8Array | null | undefined): void => {
    hash.update(bytes === null || bytes === undefined ? 'n' : `b${bytes.length}:`);
    if (bytes !== null && bytes !== undefined) {
      hash.update(bytes);
    }
  };
  for (const record of records) {
    hash.update(`r${record.timestampMs ?? ''}|`);
    field(record.key);
    field(record.value);
    for (const [key, value] of record.headers ?? []) {
      hash.update(`h${key}|`);
      field(value);
    }
  }
  return hash.digest('hex');
}

interface Acknowledged {
  readonly count: number;
  readonly hash: string;
}

const CHILD_PATH = path.join(import.meta.dirname, '..', 'fixtures', 'crash-child.ts');
const READY_DEADLINE_MS = 20_000;
const EXIT_DEADLINE_MS = 10_000;

async function runChild(
  directory: string,
  childSeed: number,
  random: () => number,
  acknowledged: Map<bigint, Acknowledged>,
): Promise<{ killedBeforeReady: boolean; acknowledgedBatches: number; acknowledgedRecords: number }> {
  const child: ChildProcess = spawn(process.execPath, [CHILD_PATH, directory, String(childSeed)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let ready = false;
  let buffered = '';
  let stderr = '';
  let acknowledgedBatches = 0;
  let acknowledgedRecords = 0;
  let onReady: (() => void) | undefined;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    // Bounded by the chunk: each iteration consumes one complete line.
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const [kind, first, second, third] = line.split(' ');
      if (kind === 'ready') {
        ready = true;
        onReady?.();
      } else if (kind === 'ack') {
        const count = Number(second);
        acknowledged.set(BigInt(first!), { count, hash: third! });
        acknowledgedBatches++;
        acknowledgedRecords += count;
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killEarly = random() < 0.2;
  let killedBeforeReady = false;
  if (killEarly) {
    await new Promise((resolve) => setTimeout(resolve, random() * 200));
    killedBeforeReady = !ready;
  } else {
    const readyNow = new Promise<void>((resolve) => {
      if (ready) {
        resolve();
      } else {
        onReady = resolve;
      }
    });
    const exitedEarly = exited.then((code) => {
      throw new Error(`crash child exited early with code ${code}: ${stderr}`);
    });
    exitedEarly.catch(() => {}); // only observed through the race below
    await withDeadline(
      Promise.race([readyNow, exitedEarly]),
      READY_DEADLINE_MS,
      'the crash child to open the partition',
    );
    await new Promise((resolve) => setTimeout(resolve, random() * 250));
  }
  child.kill('SIGKILL');
  const code = await withDeadline(exited, EXIT_DEADLINE_MS, 'the crash child to die');
  if (code !== null && code !== 0) {
    throw new Error(`crash child failed with exit code ${code} before it was killed: ${stderr}`);
  }
  return { killedBeforeReady, acknowledgedBatches, acknowledgedRecords };
}

/** Reopens the partition and checks every acknowledged batch; returns the new high watermark. */
async function verify(
  directory: string,
  acknowledged: Map<bigint, Acknowledged>,
  verifiedHighWatermark: bigint,
): Promise<{ highWatermark: bigint; verifiedBatches: number; truncated: boolean }> {
  const partition = await openPartition({ directory, ...CRASH_PARTITION_OPTIONS });
  try {
    const start = partition.logStartOffset;
    const highWatermark = partition.highWatermark;
    if (highWatermark < verifiedHighWatermark) {
      throw new Error(
        `high watermark went back from ${verifiedHighWatermark} to ${highWatermark}: durable data was lost`,
      );
    }
    for (const base of acknowledged.keys()) {
      if (base < start) {
        acknowledged.delete(base); // removed by retention, legitimately
      }
    }
    const seen = new Set<bigint>();
    let offset = start;
    // Each read returns at least one batch, so the scan ends within HW - start reads.
    for (let reads = 0n; offset < highWatermark; reads++) {
      if (reads > highWatermark - start) {
        throw new Error('verification scan did not make progress');
      }
      const result = await partition.read(offset, 1024 * 1024);
      let at = 0;
      for (let batch = 0; batch < result.batchCount; batch++) {
        const size = recordBatchSize(result.batches, at);
        const records: LogRecord[] = decodeRecordBatchRecords(result.batches, at);
        const baseOffset = records[0]!.offset;
        if (baseOffset !== offset) {
          throw new Error(`offsets not dense: expected ${offset}, found a batch at ${baseOffset}`);
        }
        for (let index = 0; index < records.length; index++) {
          if (records[index]!.offset !== baseOffset + BigInt(index)) {
            throw new Error(`record offsets inside the batch at ${baseOffset} are not dense`);
          }
        }
        const expected = acknowledged.get(baseOffset);
        if (expected !== undefined) {
          if (expected.count !== records.length || expected.hash !== hashRecords(records)) {
            throw new Error(`acknowledged batch at offset ${baseOffset} came back different`);
          }
          seen.add(baseOffset);
        }
        offset = baseOffset + BigInt(records.length);
        at += size;
      }
      if (offset !== result.nextOffset) {
        throw new Error(`read reported next offset ${result.nextOffset}, batches end at ${offset}`);
      }
    }
    for (const [base, entry] of acknowledged) {
      if (!seen.has(base)) {
        throw new Error(
          `acknowledged batch at offset ${base} (${entry.count} records) is missing after recovery (log ${start}..${highWatermark})`,
        );
      }
    }
    return {
      highWatermark,
      verifiedBatches: seen.size,
      truncated: partition.recoveryReport.truncation !== undefined,
    };
  } finally {
    await partition.close();
  }
}

/** Runs `options.cycles` kill/reopen/verify cycles; throws on the first durability violation. */
export async function runCrashCycles(options: CrashRunOptions): Promise<CrashRunSummary> {
  const started = performance.now();
  const random = createRandom(options.seed);
  const acknowledged = new Map<bigint, Acknowledged>();
  let highWatermark = 0n;
  let acknowledgedBatches = 0;
  let acknowledgedRecords = 0;
  let verifiedBatches = 0;
  let truncations = 0;
  let killsDuringOpen = 0;
  for (let cycle = 1; cycle <= options.cycles; cycle++) {
    const childSeed = Math.floor(random() * 2 ** 31);
    const run = await runChild(options.directory, childSeed, random, acknowledged);
    acknowledgedBatches += run.acknowledgedBatches;
    acknowledgedRecords += run.acknowledgedRecords;
    killsDuringOpen += run.killedBeforeReady ? 1 : 0;
    const checked = await verify(options.directory, acknowledged, highWatermark);
    highWatermark = checked.highWatermark;
    verifiedBatches += checked.verifiedBatches;
    truncations += checked.truncated ? 1 : 0;
    options.progress?.(
      `cycle ${cycle}/${options.cycles}: +${run.acknowledgedBatches} acknowledged batches, ${checked.verifiedBatches} verified, high watermark ${highWatermark}${checked.truncated ? ', torn tail truncated' : ''}${run.killedBeforeReady ? ', killed during open' : ''}`,
    );
  }
  return {
    cycles: options.cycles,
    seed: options.seed,
    acknowledgedBatches,
    acknowledgedRecords,
    verifiedBatches,
    truncations,
    killsDuringOpen,
    highWatermark,
    elapsedMs: performance.now() - started,
  };
}
