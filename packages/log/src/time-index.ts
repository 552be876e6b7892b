/**
 * Sparse time index of one segment, Kafka's `.timeindex` format: 12-byte entries of
 * (timestamp int64 BE in ms, relative offset uint32 BE).
 *
 * Meaning of an entry (T, O): T is the largest record timestamp among all records of the segment
 * *before* offset O. Entries are added at offset-index points when that running maximum has grown,
 * so T strictly increases and O increases. To find the first record with timestamp >= t, take the
 * last entry with T < t: every record before its O is older than t, so the scan starts at O. When a
 * segment is rolled or closed a final entry (segment maximum, record count) is written; its presence
 * marks a complete index and gives the segment's largest timestamp without reading the log.
 */

import { invariant } from './errors.ts';

/** Bytes per on-disk entry. */
export const TIME_INDEX_ENTRY_BYTES = 12;
/** Upper bound on entries per segment. */
export const TIME_INDEX_ENTRIES_MAX = 1 << 24;

const INITIAL_CAPACITY = 16;

/** In-memory sparse time index. */
export class TimeIndex {
  #timestampsMs = new Float64Array(INITIAL_CAPACITY);
  #relativeOffsets = new Uint32Array(INITIAL_CAPACITY);
  #count = 0;

  /** Number of entries. */
  get count(): number {
    return this.#count;
  }

  /** Timestamp of the last entry, or -Infinity when empty. */
  get lastTimestampMs(): number {
    return this.#count === 0 ? Number.NEGATIVE_INFINITY : this.#timestampsMs[this.#count - 1]!;
  }

  /** Relative offset of the last entry, or -1 when empty. */
  get lastRelativeOffset(): number {
    return this.#count === 0 ? -1 : this.#relativeOffsets[this.#count - 1]!;
  }

  /** Adds an entry; timestamps must strictly increase and offsets must not decrease. */
  append(timestampMs: number, relativeOffset: number): void {
    const count = this.#count;
    invariant(count < TIME_INDEX_ENTRIES_MAX, 'time index below its entry bound');
    invariant(
      count === 0 ||
        (timestampMs > this.#timestampsMs[count - 1]! && relativeOffset >= this.#relativeOffsets[count - 1]!),
      'time index entries increase',
    );
    if (count === this.#timestampsMs.length) {
      const timestamps = new Float64Array(count * 2);
      timestamps.set(this.#timestampsMs);
      this.#timestampsMs = timestamps;
      const relativeOffsets = new Uint32Array(count * 2);
      relativeOffsets.set(this.#relativeOffsets);
      this.#relativeOffsets = relativeOffsets;
    }
    this.#timestampsMs[count] = timestampMs;
    this.#relativeOffsets[count] = relativeOffset;
    this.#count = count + 1;
  }

  /**
   * Records that the largest timestamp of the first `recordCount` records is `timestampMsMax`, as
   * the final entry written on roll and close. When the maximum has not grown since the last entry,
   * that entry's offset is moved forward instead (its claim stays true for the longer prefix).
   */
  finish(timestampMsMax: number, recordCount: number): void {
    const count = this.#count;
    if (count > 0 && timestampMsMax <= this.#timestampsMs[count - 1]!) {
      invariant(recordCount >= this.#relativeOffsets[count - 1]!, 'time index end does not move backwards');
      this.#relativeOffsets[count - 1] = recordCount;
      return;
    }
    this.append(timestampMsMax, recordCount);
  }

  /**
   * Relative offset where a scan for the first record with timestamp >= `timestampMs` may start:
   * the offset of the last entry whose timestamp is below it, or 0 when there is none.
   */
  scanStart(timestampMs: number): number {
    let low = 0;
    let high = this.#count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.#timestampsMs[middle]! < timestampMs) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? 0 : this.#relativeOffsets[found]!;
  }

  /** The on-disk bytes. */
  encode(): Uint8Array {
    const bytes = new Uint8Array(this.#count * TIME_INDEX_ENTRY_BYTES);
    const view = new DataView(bytes.buffer);
    for (let index = 0; index < this.#count; index++) {
      view.setBigInt64(index * TIME_INDEX_ENTRY_BYTES, BigInt(this.#timestampsMs[index]!));
      view.setUint32(index * TIME_INDEX_ENTRY_BYTES + 8, this.#relativeOffsets[index]!);
    }
    return bytes;
  }
}

/**
 * Parses a `.timeindex` file of a closed segment holding `recordCount` records. It must be a whole
 * number of entries, increase, and end with the final entry (…, recordCount) written on roll;
 * otherwise the reason is returned and the caller rebuilds the index from the log.
 */
export function decodeTimeIndex(bytes: Uint8Array, recordCount: number): TimeIndex | string {
  if (recordCount === 0 && bytes.length === 0) {
    return new TimeIndex();
  }
  if (bytes.length === 0 || bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) {
    return `size ${bytes.length} is not a positive multiple of ${TIME_INDEX_ENTRY_BYTES}`;
  }
  const count = bytes.length / TIME_INDEX_ENTRY_BYTES;
  if (count > TIME_INDEX_ENTRIES_MAX) {
    return `${count} entries exceed the bound of ${TIME_INDEX_ENTRIES_MAX}`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const index = new TimeIndex();
  for (let entry = 0; entry < count; entry++) {
    const timestampMs = Number(view.getBigInt64(entry * TIME_INDEX_ENTRY_BYTES));
    const relativeOffset = view.getUint32(entry * TIME_INDEX_ENTRY_BYTES + 8);
    if (relativeOffset > recordCount) {
      return `entry ${entry} points past the end of the segment`;
    }
    if (entry > 0 && (timestampMs <= index.lastTimestampMs || relativeOffset < index.lastRelativeOffset)) {
      return `entry ${entry} does not increase`;
    }
    index.append(timestampMs, relativeOffset);
  }
  if (index.lastRelativeOffset !== recordCount) {
    return 'the final entry written on roll is missing';
  }
  return index;
}
