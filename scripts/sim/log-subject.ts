/**
 * The log under simulation: one `@herald/log` partition with small segments, byte and time
 * retention on the virtual clock, and a model of what was acknowledged. `check` reads the whole
 * partition back and compares it with the model.
 */
import { openPartition, type Partition } from '@herald/log';
import { type SegmentFlip, typedCode, Violation } from './oracle.ts';
import type { SimDisk } from './sim-disk.ts';

/** Directory of the simulated partition on the simulated disk. */
export const LOG_DIRECTORY = '/sim/log/p-0';

/** Reads of the check retried after a typed I/O error. */
const READ_RETRIES_MAX = 8;

/** Most open attempts after a crash (each injected failure hits one call; a history may schedule several close together). */
const OPEN_ATTEMPTS_MAX = 8;

/** The log partition and its model. */
export class LogSubject {
  readonly #disk: SimDisk;
  readonly #clock: () => number;
  #partition: Partition | undefined;
  /** Acknowledged records: offset to value. */
  readonly #acked = new Map<bigint, string>();
  /** Values appended without an acknowledgement (they may or may not be there). */
  readonly #maybe = new Set<string>();
  /** Set once the log reported (detected) corruption: the subject stops, as an operator would. */
  corrupt: string | undefined;
  /** Operations that ended in a typed error. */
  typedErrors = 0;
  /** Acknowledged records cut off with a torn tail that a bit flip above the recovery point made. */
  lostToFlips = 0;
  #flips: SegmentFlip[] = [];
  #nextValue = 0;
  /** Counters for the report. */
  readonly stats = { appends: 0, acked: 0, failedAppends: 0, reads: 0, retentionRuns: 0, opens: 0 };

  constructor(disk: SimDisk, clock: () => number) {
    this.#disk = disk;
    this.#clock = clock;
  }

  /** The stable code of `error` (counted), or a Violation for an untyped one. */
  #typed(error: unknown, during: string): string {
    const code = typedCode(error, during);
    this.typedErrors++;
    return code;
  }

  /** Opens (again) on a fresh view of the disk; a corruption error stops the subject. */
  async open(): Promise<void> {
    if (this.corrupt !== undefined) return;
    for (let attempt = 1; ; attempt++) {
      try {
        this.#partition = await openPartition({
          directory: LOG_DIRECTORY,
          fileSystem: this.#disk.view(),
          clock: this.#clock,
          segmentBytesMax: 2048,
          retentionBytes: 6144,
          retentionMs: 600_000,
          // Retention runs when the simulation says so: the timer must never fire.
          retentionCheckIntervalMs: 2 ** 31 - 1,
          checkpointIntervalMs: 1,
          indexIntervalBytes: 256,
        });
        this.stats.opens++;
        return;
      } catch (error) {
        const code = this.#typed(error, 'opening the log');
        if (code === 'LOG_CORRUPT') {
          this.#corruptionFound(error);
          return;
        }
        if (attempt >= OPEN_ATTEMPTS_MAX)
          throw new Violation(`the log did not open in ${attempt} attempts: ${code}`);
      }
    }
  }

  #corruptionFound(error: unknown): void {
    if (this.#flips.length === 0) {
      throw new Violation(`the log reports corruption without any bit flip: ${(error as Error).message}`);
    }
    this.corrupt = (error as Error).message;
    this.#partition = undefined;
  }

  /** A bit flip was injected into this partition's segment (while it was down). */
  flipped(flip: SegmentFlip): void {
    this.#flips.push(flip);
  }

  /**
   * Power loss (call after the disk crashed): the instance is abandoned; closing it clears its
   * timers, and its file-system calls fail without touching the disk.
   */
  abandon(): void {
    void this.#partition?.close().catch(() => {});
    this.#partition = undefined;
  }

  /** A clean close; a failure of it must be typed. */
  async close(): Promise<void> {
    const partition = this.#partition;
    this.#partition = undefined;
    await partition?.close().catch((error: unknown) => this.#typed(error, 'closing the log'));
  }

  /** Whether the partition is open and accepts appends. */
  get writable(): boolean {
    return this.#partition !== undefined && this.#partition.failure === undefined;
  }

  /** Whether the partition went read-only after an I/O failure (a restart recovers it). */
  get failed(): boolean {
    return this.#partition?.failure !== undefined;
  }

  /** Appends `batches` concurrently (a group commit); the records of each resolved one are acknowledged. */
  async append(batches: readonly number[]): Promise<void> {
    const partition = this.#partition;
    if (partition === undefined) return;
    await Promise.all(
      batches.map(async (count) => {
        const values = Array.from({ length: count }, () => `L${this.#nextValue++}`);
        for (const value of values) this.#maybe.add(value);
        this.stats.appends++;
        try {
          const result = await partition.append(
            values.map((value) => ({ value: new TextEncoder().encode(value), timestampMs: this.#clock() })),
          );
          if (result.lastOffset - result.baseOffset !== BigInt(count - 1)) {
            throw new Violation(
              `an append of ${count} records got offsets ${result.baseOffset}..${result.lastOffset}`,
            );
          }
          values.forEach((value, index) => {
            this.#acked.set(result.baseOffset + BigInt(index), value);
            this.#maybe.delete(value);
          });
          this.stats.acked += count;
        } catch (error) {
          if (error instanceof Violation) throw error;
          this.#typed(error, 'an append');
          this.stats.failedAppends++;
        }
      }),
    );
  }

  /** Runs retention now (the virtual clock decides what is old). */
  async retention(): Promise<void> {
    if (this.#partition === undefined) return;
    this.stats.retentionRuns++;
    await this.#partition.enforceRetention().catch((error: unknown) => this.#typed(error, 'retention'));
  }

  /**
   * Reads the partition from its start and checks: offsets dense, every acknowledged record at or
   * above the log start present and unchanged, nothing served that was never appended, no value
   * twice. A read reporting corruption counts as detection (the subject stops).
   */
  async check(): Promise<void> {
    const partition = this.#partition;
    if (partition === undefined || this.corrupt !== undefined) return;
    const start = partition.logStartOffset;
    const end = partition.highWatermark;
    const seen = new Set<string>();
    let expected = start;
    let retries = 0;
    // Bounded: each read returns at least one batch or ends the loop.
    while (expected < end) {
      let records: Awaited<ReturnType<Partition['readRecords']>>['records'];
      try {
        this.stats.reads++;
        records = (await partition.readRecords(expected, 4096)).records;
      } catch (error) {
        const code = this.#typed(error, `reading offset ${expected}`);
        if (code === 'LOG_CORRUPT') return this.#corruptionFound(error);
        // An injected failure hits one call: the same read again must work.
        if (retries++ >= READ_RETRIES_MAX)
          throw new Violation(`reading offset ${expected} failed with ${code}`);
        continue;
      }
      if (records.length === 0)
        throw new Violation(`a read at ${expected} below the high watermark ${end} returned nothing`);
      for (const record of records) {
        if (record.offset !== expected)
          throw new Violation(`offsets not dense: expected ${expected}, read ${record.offset}`);
        const value = new TextDecoder().decode(record.value ?? new Uint8Array());
        const acked = this.#acked.get(record.offset);
        if (acked !== undefined && acked !== value) {
          throw new Violation(`offset ${record.offset} holds ${value}, acknowledged as ${acked}`);
        }
        if (acked === undefined && !this.#maybe.has(value)) {
          throw new Violation(`offset ${record.offset} holds ${value}, which was never appended there`);
        }
        if (seen.has(value)) throw new Violation(`${value} is stored twice`);
        seen.add(value);
        expected++;
      }
    }
    this.#checkAckedKept(start, end);
  }

  #checkAckedKept(start: bigint, end: bigint): void {
    for (const [offset, value] of this.#acked) {
      if (offset < start) {
      } else if (offset >= end) {
        // Only a flip above the recovery point in the active segment may cut acknowledged records.
        if (!this.#flips.some((flip) => flip.aboveRecoveryPoint)) {
          throw new Violation(
            `acknowledged offset ${offset} (${value}) is lost: the high watermark is ${end}`,
          );
        }
        this.#acked.delete(offset);
        this.lostToFlips++;
      }
    }
    // Unacknowledged values stay possible: a crash may still bring an unsynced batch back.
    this.#flips = [];
  }
}
