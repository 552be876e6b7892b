/**
 * Reads a topic across its partitions from given offsets: every round fetches all active
 * partitions at once (long-polling only when the previous round found nothing, so a busy topic
 * is read without waits and an idle one without spinning), then hands records over in offset
 * order per partition. Used by consume, tail, replay and the dead-letter commands.
 */
import type { ConsumedRecord, Target } from './targets/target.ts';

/** How long one fetch round waits for new records when the previous round found none (kcat's fetch.wait.max.ms). */
const IDLE_WAIT_MS = 500;

/** What to read and where to stop. */
export interface ReadOptions {
  readonly target: Target;
  readonly topic: string;
  /** Next offset to read, per partition read. */
  readonly start: ReadonlyMap<number, bigint>;
  /** Exclusive end per partition; without it a partition ends at its high watermark (unless following). */
  readonly stopAt?: ReadonlyMap<number, bigint>;
  /**
   * Stop each partition at its first record at or after this time, not included (kcat `-o e@`).
   * A partition that has reached its end once this time has passed is done too: records appended
   * from now on are newer, so waiting for one there would wait forever (kcat does).
   */
  readonly endTimestampMs?: number | undefined;
  /** Keep waiting for new records instead of ending at the high watermark. */
  readonly follow: boolean;
  /** How long a round waits for new records when the previous one found none (default 500 ms). */
  readonly idleWaitMs?: number | undefined;
  readonly signal: AbortSignal;
  /** Called per record in order; resolve false to stop reading. */
  readonly onRecord: (record: ConsumedRecord) => boolean | Promise<boolean>;
  /**
   * Bytes a record must hold to be worth decoding, read again before every fetch (a scan may
   * learn more to look for): passed to the target as `FetchOptions.batchHolds`. Only scans that
   * test records for bytes give it; every record that holds them is still read.
   */
  readonly batchHolds?: (() => readonly Uint8Array[] | undefined) | undefined;
  /** Called with the records a fetch left out because of `batchHolds`; return false to stop reading. */
  readonly onSkipped?: ((records: number) => boolean) | undefined;
}

/** Reads until every partition ended, `onRecord` said stop, or `signal` aborted; resolves the next offsets. */
export async function readTopic(options: ReadOptions): Promise<Map<number, bigint>> {
  const positions = new Map(options.start);
  const active = new Set(positions.keys());
  let idle = false;
  while (active.size > 0 && !options.signal.aborted) {
    const partitions = [...active].sort((a, b) => a - b);
    const waitMs = idle ? (options.idleWaitMs ?? IDLE_WAIT_MS) : 0;
    const results = await Promise.all(
      partitions.map((partition) => {
        const batchHolds = options.batchHolds?.();
        return batchHolds === undefined
          ? options.target.fetch(options.topic, partition, positions.get(partition)!, waitMs)
          : options.target.fetch(options.topic, partition, positions.get(partition)!, waitMs, { batchHolds });
      }),
    );
    idle = true;
    for (let index = 0; index < partitions.length; index++) {
      const partition = partitions[index]!;
      const result = results[index]!;
      const stop = options.stopAt?.get(partition);
      let reachedEndTime = false;
      for (const record of result.records) {
        if (stop !== undefined && record.offset >= stop) {
          positions.set(partition, stop);
          break;
        }
        if (options.endTimestampMs !== undefined && record.timestampMs >= options.endTimestampMs) {
          reachedEndTime = true;
          break;
        }
        if (options.signal.aborted) return positions;
        idle = false;
        const keepGoing = await options.onRecord(record);
        positions.set(partition, record.offset + 1n);
        if (!keepGoing) return positions;
      }
      if (reachedEndTime) {
        active.delete(partition);
        continue;
      }
      // Skip offsets with no records (control batches, a start before the log start).
      const position = positions.get(partition)!;
      if (result.records.length === 0 && result.nextOffset > position) {
        positions.set(partition, result.nextOffset);
        idle = false;
      } else if (
        result.records.length > 0 &&
        result.nextOffset > position &&
        (stop === undefined || result.nextOffset <= stop)
      ) {
        positions.set(partition, result.nextOffset);
      }
      if (result.skippedRecords !== undefined && options.onSkipped?.(result.skippedRecords) === false) {
        return positions;
      }
      const next = positions.get(partition)!;
      const end = stop ?? (options.follow ? undefined : result.highWatermark);
      if (end !== undefined && next >= end) active.delete(partition);
      else if (
        options.endTimestampMs !== undefined &&
        next >= result.highWatermark &&
        Date.now() >= options.endTimestampMs
      ) {
        active.delete(partition);
      }
    }
  }
  return positions;
}
