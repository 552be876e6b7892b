/**
 * Crash-cycle harness shared by `test/crash.test.ts` and `scripts/soak-log.ts` (1000+ cycles).
 * Each cycle spawns `test/fixtures/crash-child.ts`, which appends with `fsync: 'always'` from
 * several concurrent appenders on a power-loss file system (a kill drops unsynced bytes and tears
 * the last unsynced write) and prints every append it begins and every batch acknowledged (base
 * offset, record count, content hash). The harness SIGKILLs it at a seeded random moment, reads its
 * stdout until the pipe closes (acks still in the pipe count), reopens the partition in this
 * process and checks:
 * - every acknowledged batch is present exactly once, at its offset, byte for byte (by hash);
 * - no offset was acknowledged twice, and no batch in the log repeats an acknowledged one or was
 *   never appended by a child;
 * - offsets are dense, CRCs valid, the high watermark never goes back;
 * - the log start moves only by configured retention (never backwards, never without retention,
 *   and never below the retained size retention keeps).
 * At the end it checks that its faults hit their windows: at least one kill landed with appends in
 * flight, and at least one recovery cut a torn tail. The next cycle appends to the same directory.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { createRandom, withDeadline } from '@herald/test-support';
import { decodeRecordBatchRecords, type LogRecord, openPartition, recordBatchSize } from '../../src/index.ts';

/** Options of {@link runCrashCycles}. */
export interface CrashRunOptions {
  /** Number of kill/reopen cycles. */
  readonly cycles: number;
  /** Seed of every random choice (kill moments, child workloads). */
  readonly seed: number;
  /** Partition directory (reused across cycles). */
  readonly directory: string;
  /** Retention the child applies, in bytes; without it the log start must stay where it is. */
  readonly retentionBytes?: number;
  /** Test-only fault the child injects (`HERALD_TEST_FAULT`), to prove the harness fails. */
  readonly fault?: CrashFault;
  /**
   * Whether to fail a run whose kills never landed with appends in flight or whose recoveries
   * never cut a torn tail (default true; runs of a handful of cycles may turn it off).
   */
  readonly requireWindows?: boolean;
  /** Receives one progress line per cycle. */
  readonly progress?: (line: string) => void;
}

/**
 * Faults the crash child injects on purpose, each of which must turn the harness red:
 * `skip-fsync` (acks without syncing), `drop-last-ack` (the sync before an ack leaves the last
 * write behind), `duplicate-one` (one acknowledged batch appended again), `move-start` (retention
 * the harness did not configure moves the log start), `reuse-offset` (one offset acknowledged for
 * two batches).
 */
export type CrashFault = 'skip-fsync' | 'drop-last-ack' | 'duplicate-one' | 'move-start' | 'reuse-offset';

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
  /** Stored batches holding more than one append (merged by the writer), counted per verification. */
  readonly mergedBatches: number;
  /** Cycles killed before the child reported ready (during start-up or recovery). */
  readonly killsDuringOpen: number;
  /** Cycles whose kill landed while at least one append was begun and not acknowledged. */
  readonly killsWithAppendsInFlight: number;
  /** Appends in flight at the kills, summed over the cycles. */
  readonly appendsInFlightAtKills: number;
  /** Log start offset after the last cycle (moved only by retention). */
  readonly logStartOffset: bigint;
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

/** Retention the CI run applies, keeping the verified data small so each cycle stays fast. */
export const CRASH_RETENTION_BYTES = 1024 * 1024;

/**
 * An upper bound of the bytes `records` take in a stored batch (61-byte batch header, at most
 * 64 bytes of varints and attributes per record and 16 per header, plus the payload).
 */
export function estimateBatchBytes(records: readonly HashableRecord[]): number {
  let bytes = 61;
  for (const record of records) {
    bytes += 64 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
    for (const [key, value] of record.headers ?? []) {
      bytes +=
        16 +
        Buffer.byteLength(key) +
        (typeof value === 'string' ? Buffer.byteLength(value) : (value?.length ?? 0));
    }
  }
  return bytes;
}

/** Small seeded PRNG (mulberry32): deterministic choices from a printed seed. */
export { createRandom };

interface HashableRecord {
  readonly key?: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** A string value is stored as its UTF-8 bytes, and hashed as them. */
  readonly headers?: readonly (readonly [string, Uint8Array | string | null])[];
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
      field(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
    }
  }
  return hash.digest('hex');
}

/** One acknowledged batch as the child reported it. */
interface Acknowledged {
  readonly count: number;
  readonly hash: string;
}

/** Everything the children reported over a run, and the state verification carries over. */
class RunLedger {
  /** Acknowledged batches still expected in the log, by base offset. */
  readonly acknowledged = new Map<bigint, Acknowledged>();
  /** Base offset each acknowledged content hash was acknowledged at (kept after retention). */
  readonly acknowledgedHashes = new Map<string, bigint>();
  /** Content hashes of every append a child began. */
  readonly begun = new Set<string>();
  highWatermark = 0n;
  logStartOffset = 0n;
}

const CHILD_PATH = path.join(import.meta.dirname, '..', 'fixtures', 'crash-child.ts');
const READY_DEADLINE_MS = 20_000;
const EXIT_DEADLINE_MS = 10_000;
/** How long an aimed kill waits for the child's next `held` before it lands anyway. */
const HELD_WAIT_MS = 1000;
/** Share of kills after ready that aim at a torn tail; the rest land wherever the delay ends. */
const AIM_AT_TORN_TAIL_CHANCE = 0.5;

interface ChildRun {
  readonly killedBeforeReady: boolean;
  readonly acknowledgedBatches: number;
  readonly acknowledgedRecords: number;
  /** Appends begun and not acknowledged when the pipe closed. */
  readonly inFlight: number;
  /** Estimated bytes of those appends: the most a kill may have dropped. */
  readonly inFlightBytes: number;
}

/** Parses the child's lines into the ledger; records the first violation instead of throwing. */
class ChildLines {
  ready = false;
  onReady: (() => void) | undefined;
  onHeld: (() => void) | undefined;
  violation: string | undefined;
  acknowledgedBatches = 0;
  acknowledgedRecords = 0;
  readonly inFlight = new Map<string, number>();
  readonly #ledger: RunLedger;

  constructor(ledger: RunLedger) {
    this.#ledger = ledger;
  }

  line(line: string): void {
    const [kind, first, second, third] = line.split(' ');
    if (kind === 'ready') {
      this.ready = true;
      this.onReady?.();
    } else if (kind === 'begin') {
      this.#ledger.begun.add(first!);
      this.inFlight.set(first!, Number(second));
    } else if (kind === 'held') {
      this.onHeld?.();
    } else if (kind === 'ack') {
      this.#ack(BigInt(first!), Number(second), third!);
    }
  }

  #ack(base: bigint, count: number, hash: string): void {
    const { acknowledged, acknowledgedHashes } = this.#ledger;
    const earlier = acknowledged.get(base);
    if (earlier !== undefined) {
      this.violation ??= `offset ${base} was acknowledged twice (a reused offset): first ${earlier.count} records ${earlier.hash.slice(0, 12)}, then ${count} records ${hash.slice(0, 12)}`;
    }
    const sameContent = acknowledgedHashes.get(hash);
    if (sameContent !== undefined && sameContent !== base) {
      this.violation ??= `the same batch was acknowledged at offsets ${sameContent} and ${base} (a duplicate)`;
    }
    acknowledged.set(base, { count, hash });
    acknowledgedHashes.set(hash, base);
    this.inFlight.delete(hash);
    this.acknowledgedBatches++;
    this.acknowledgedRecords += count;
  }
}

async function runChild(
  options: CrashRunOptions,
  childSeed: number,
  random: () => number,
  ledger: RunLedger,
): Promise<ChildRun> {
  const retention = options.retentionBytes === undefined ? 'none' : String(options.retentionBytes);
  const child: ChildProcess = spawn(
    process.execPath,
    [CHILD_PATH, options.directory, String(childSeed), retention],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HERALD_TEST_FAULT: options.fault ?? '' },
    },
  );
  const lines = new ChildLines(ledger);
  let buffered = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    // Bounded by the chunk: each iteration consumes one complete line.
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      lines.line(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  // 'close', not 'exit': acks still in the pipe when the process dies are read before it fires.
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let killedBeforeReady = false;
  try {
    if (random() < 0.2) {
      await new Promise((resolve) => setTimeout(resolve, random() * 200));
      killedBeforeReady = !lines.ready;
    } else {
      const readyNow = new Promise<void>((resolve) => {
        if (lines.ready) {
          resolve();
        } else {
          lines.onReady = resolve;
        }
      });
      const closedEarly = closed.then((code) => {
        throw new Error(`crash child exited early with code ${code}: ${stderr}`);
      });
      closedEarly.catch(() => {}); // only observed through the race below
      await withDeadline(
        Promise.race([readyNow, closedEarly]),
        READY_DEADLINE_MS,
        'the crash child to open the partition',
      );
      await new Promise((resolve) => setTimeout(resolve, random() * 250));
      // Then, mostly, kill right after a segment write was left partly on disk (the child's `held`):
      // its sync is still running, so the kill tears the tail that recovery must cut.
      if (random() < AIM_AT_TORN_TAIL_CHANCE) {
        const held = new Promise<void>((resolve) => {
          lines.onHeld = resolve;
        });
        await Promise.race([held, new Promise((resolve) => setTimeout(resolve, HELD_WAIT_MS))]);
      }
    }
  } finally {
    child.kill('SIGKILL');
  }
  const code = await withDeadline(closed, EXIT_DEADLINE_MS, 'the crash child to die and close its pipes');
  if (code !== null && code !== 0) {
    throw new Error(`crash child failed with exit code ${code} before it was killed: ${stderr}`);
  }
  if (lines.violation !== undefined) {
    throw new Error(lines.violation);
  }
  let inFlightBytes = 0;
  for (const bytes of lines.inFlight.values()) inFlightBytes += bytes;
  return {
    killedBeforeReady,
    acknowledgedBatches: lines.acknowledgedBatches,
    acknowledgedRecords: lines.acknowledgedRecords,
    inFlight: lines.inFlight.size,
    inFlightBytes,
  };
}

/** Checks a move of the log start against the retention the run configured. */
function checkLogStart(
  options: CrashRunOptions,
  ledger: RunLedger,
  start: bigint,
  retainedBytes: number,
  run: ChildRun,
): void {
  const previous = ledger.logStartOffset;
  if (start < previous) {
    throw new Error(`log start went back from ${previous} to ${start}`);
  }
  if (start === previous) return;
  if (options.retentionBytes === undefined) {
    throw new Error(
      `log start moved from ${previous} to ${start} although no retention was configured: records were dropped`,
    );
  }
  // Retention deletes a segment only while the rest holds at least retentionBytes; a kill may since
  // have cut at most the unsynced appends, all of which were in flight.
  if (retainedBytes + run.inFlightBytes < options.retentionBytes) {
    throw new Error(
      `log start moved from ${previous} to ${start} leaving ${retainedBytes} bytes (+${run.inFlightBytes} in flight), ` +
        `less than the ${options.retentionBytes} retention keeps: more was dropped than retention allows`,
    );
  }
  for (const [base, entry] of ledger.acknowledged) {
    if (base < start && base + BigInt(entry.count) > start) {
      throw new Error(`log start ${start} falls inside the acknowledged batch at ${base}`);
    }
  }
}

/** Classifies a batch found at `base`: acknowledged there, a duplicate, in flight, or a phantom. */
function checkBatch(
  ledger: RunLedger,
  base: bigint,
  records: readonly LogRecord[],
  seenHashes: Set<string>,
): boolean {
  const hash = hashRecords(records);
  if (seenHashes.has(hash)) {
    throw new Error(`the batch at offset ${base} repeats a batch earlier in the log (a duplicate)`);
  }
  seenHashes.add(hash);
  const expected = ledger.acknowledged.get(base);
  if (expected !== undefined) {
    if (expected.count !== records.length || expected.hash !== hash) {
      throw new Error(`acknowledged batch at offset ${base} came back different`);
    }
    return true;
  }
  const acknowledgedAt = ledger.acknowledgedHashes.get(hash);
  if (acknowledgedAt !== undefined) {
    throw new Error(
      `acknowledged batch of offset ${acknowledgedAt} appears again, unacknowledged, at offset ${base} (a duplicate)`,
    );
  }
  if (!ledger.begun.has(hash)) {
    throw new Error(`the batch at offset ${base} was never appended by a child`);
  }
  return false; // in flight at a kill and made durable anyway: allowed, never claimed
}

/** Whether `record` is the first of an append (the crash child marks it with an `append-id` header). */
function startsAppend(record: LogRecord): boolean {
  return record.headers.some(([key]) => key === 'append-id');
}

/** Reopens the partition and checks every acknowledged batch; updates the ledger's watermarks. */
async function verify(
  options: CrashRunOptions,
  ledger: RunLedger,
  run: ChildRun,
): Promise<{ verifiedBatches: number; truncated: boolean; mergedBatches: number }> {
  const partition = await openPartition({ directory: options.directory, ...CRASH_PARTITION_OPTIONS });
  try {
    const start = partition.logStartOffset;
    const highWatermark = partition.highWatermark;
    if (highWatermark < ledger.highWatermark) {
      throw new Error(
        `high watermark went back from ${ledger.highWatermark} to ${highWatermark}: durable data was lost`,
      );
    }
    const seen = new Set<bigint>();
    const seenHashes = new Set<string>();
    let retainedBytes = 0;
    let mergedBatches = 0;
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
        // The writer merges consecutive appends into one stored batch (batch-merge.ts); each
        // append's first record carries its `append-id` header, so that is where an append starts.
        if (!startsAppend(records[0]!)) {
          throw new Error(`the stored batch at ${baseOffset} does not start with an append's first record`);
        }
        let appendStart = 0;
        let appends = 0;
        for (let index = 1; index <= records.length; index++) {
          if (index < records.length && !startsAppend(records[index]!)) continue;
          appends++;
          const appendBase = baseOffset + BigInt(appendStart);
          if (checkBatch(ledger, appendBase, records.slice(appendStart, index), seenHashes))
            seen.add(appendBase);
          appendStart = index;
        }
        if (appends > 1) mergedBatches++;
        offset = baseOffset + BigInt(records.length);
        at += size;
        retainedBytes += size;
      }
      if (offset !== result.nextOffset) {
        throw new Error(`read reported next offset ${result.nextOffset}, batches end at ${offset}`);
      }
    }
    checkLogStart(options, ledger, start, retainedBytes, run);
    for (const [base, entry] of ledger.acknowledged) {
      if (base < start) {
        ledger.acknowledged.delete(base); // below a start that moved legitimately (checked above)
      } else if (!seen.has(base)) {
        throw new Error(
          `acknowledged batch at offset ${base} (${entry.count} records) is missing after recovery (log ${start}..${highWatermark})`,
        );
      }
    }
    ledger.highWatermark = highWatermark;
    ledger.logStartOffset = start;
    return {
      verifiedBatches: seen.size,
      truncated: partition.recoveryReport.truncation !== undefined,
      mergedBatches,
    };
  } finally {
    await partition.close();
  }
}

/** Runs `options.cycles` kill/reopen/verify cycles; throws on the first durability violation. */
export async function runCrashCycles(options: CrashRunOptions): Promise<CrashRunSummary> {
  const started = performance.now();
  const random = createRandom(options.seed);
  const ledger = new RunLedger();
  let acknowledgedBatches = 0;
  let acknowledgedRecords = 0;
  let verifiedBatches = 0;
  let truncations = 0;
  let mergedBatches = 0;
  let killsDuringOpen = 0;
  let killsWithAppendsInFlight = 0;
  let appendsInFlightAtKills = 0;
  for (let cycle = 1; cycle <= options.cycles; cycle++) {
    const childSeed = Math.floor(random() * 2 ** 31);
    const run = await runChild(options, childSeed, random, ledger);
    acknowledgedBatches += run.acknowledgedBatches;
    acknowledgedRecords += run.acknowledgedRecords;
    killsDuringOpen += run.killedBeforeReady ? 1 : 0;
    killsWithAppendsInFlight += run.inFlight > 0 ? 1 : 0;
    appendsInFlightAtKills += run.inFlight;
    const checked = await verify(options, ledger, run);
    verifiedBatches += checked.verifiedBatches;
    truncations += checked.truncated ? 1 : 0;
    mergedBatches += checked.mergedBatches;
    options.progress?.(
      `cycle ${cycle}/${options.cycles}: +${run.acknowledgedBatches} acknowledged batches, ${run.inFlight} in flight at the kill, ` +
        `${checked.verifiedBatches} verified, log ${ledger.logStartOffset}..${ledger.highWatermark}` +
        `${checked.truncated ? ', torn tail truncated' : ''}${run.killedBeforeReady ? ', killed during open' : ''}`,
    );
  }
  if (options.requireWindows ?? true) {
    if (killsWithAppendsInFlight === 0) {
      throw new Error(
        `none of the ${options.cycles} kills landed with appends in flight: the run tested nothing`,
      );
    }
    if (truncations === 0) {
      throw new Error(`no recovery over ${options.cycles} cycles cut a torn tail: the run never tested one`);
    }
    if (mergedBatches === 0) {
      throw new Error(
        `no stored batch over ${options.cycles} cycles held more than one append: merging went untested`,
      );
    }
  }
  return {
    cycles: options.cycles,
    seed: options.seed,
    acknowledgedBatches,
    acknowledgedRecords,
    verifiedBatches,
    truncations,
    mergedBatches,
    killsDuringOpen,
    killsWithAppendsInFlight,
    appendsInFlightAtKills,
    logStartOffset: ledger.logStartOffset,
    highWatermark: ledger.highWatermark,
    elapsedMs: performance.now() - started,
  };
}

export { printLine } from '@herald/test-support';
