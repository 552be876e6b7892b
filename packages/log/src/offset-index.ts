/**
 * Sparse offset index of one segment, Kafka's `.index` format: 8-byte entries of
 * (relative offset uint32 BE, byte position uint32 BE), one entry per batch start every
 * `indexIntervalBytes` of log, always starting with (0, 0).
 *
 * The index lives in memory while the segment is active and is written to disk on roll and close.
 * It is only an accelerator: recovery rebuilds it from the log whenever it is missing or fails the
 * structural checks in {@link decodeOffsetIndex}.
 */

import { invariant } from './errors.ts';

/** Bytes per on-disk entry. */
export const OFFSET_INDEX_ENTRY_BYTES = 8;
/** Upper bound on entries per segment (a 2 GiB segment indexed every 128 bytes). */
export const OFFSET_INDEX_ENTRIES_MAX = 1 << 24;

const INITIAL_CAPACITY = 64;

/** In-memory sparse offset index: relative offset to byte position. */
export class OffsetIndex {
  #relativeOffsets = new Uint32Array(INITIAL_CAPACITY);
  #positions = new Uint32Array(INITIAL_CAPACITY);
  #count = 0;

  /** Number of entries. */
  get count(): number {
    return this.#count;
  }

  /** Relative offset of entry `index`. */
  relativeOffsetAt(index: number): number {
    invariant(index >= 0 && index < this.#count, 'offset index entry exists');
    return this.#relativeOffsets[index]!;
  }

  /** Byte position of entry `index`. */
  positionAt(index: number): number {
    invariant(index >= 0 && index < this.#count, 'offset index entry exists');
    return this.#positions[index]!;
  }

  /** Adds an entry; offsets and positions must strictly increase. */
  append(relativeOffset: number, position: number): void {
    const count = this.#count;
    invariant(count < OFFSET_INDEX_ENTRIES_MAX, 'offset index below its entry bound');
    invariant(
      count === 0 ||
        (relativeOffset > this.#relativeOffsets[count - 1]! && position > this.#positions[count - 1]!),
      'offset index entries strictly increase',
    );
    if (count === this.#relativeOffsets.length) {
      const relativeOffsets = new Uint32Array(count * 2);
      relativeOffsets.set(this.#relativeOffsets);
      this.#relativeOffsets = relativeOffsets;
      const positions = new Uint32Array(count * 2);
      positions.set(this.#positions);
      this.#positions = positions;
    }
    this.#relativeOffsets[count] = relativeOffset;
    this.#positions[count] = position;
    this.#count = count + 1;
  }

  /**
   * The entry with the greatest relative offset at or below `relativeOffset`: where a forward scan
   * for that offset starts. Returns entry index -1 (position 0) when there is none.
   */
  floor(relativeOffset: number): { index: number; relativeOffset: number; position: number } {
    let low = 0;
    let high = this.#count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.#relativeOffsets[middle]! <= relativeOffset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0
      ? { index: -1, relativeOffset: 0, position: 0 }
      : { index: found, relativeOffset: this.#relativeOffsets[found]!, position: this.#positions[found]! };
  }

  /** Whether an entry with exactly this relative offset exists. */
  has(relativeOffset: number): boolean {
    const entry = this.floor(relativeOffset);
    return entry.index >= 0 && entry.relativeOffset === relativeOffset;
  }

  /** The on-disk bytes. */
  encode(): Uint8Array {
    const bytes = new Uint8Array(this.#count * OFFSET_INDEX_ENTRY_BYTES);
    const view = new DataView(bytes.buffer);
    for (let index = 0; index < this.#count; index++) {
      view.setUint32(index * OFFSET_INDEX_ENTRY_BYTES, this.#relativeOffsets[index]!);
      view.setUint32(index * OFFSET_INDEX_ENTRY_BYTES + 4, this.#positions[index]!);
    }
    return bytes;
  }
}

/**
 * Parses an `.index` file and checks it against what the segment must look like: a whole number of
 * entries, first entry (0, 0), strictly increasing offsets and positions, offsets below
 * `recordCount` and positions below `logBytes`. Returns the reason when any check fails, so the
 * caller rebuilds the index from the log.
 */
export function decodeOffsetIndex(
  bytes: Uint8Array,
  recordCount: number,
  logBytes: number,
): OffsetIndex | string {
  if (recordCount === 0 && bytes.length === 0 && logBytes === 0) {
    return new OffsetIndex();
  }
  if (bytes.length === 0 || bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) {
    return `size ${bytes.length} is not a positive multiple of ${OFFSET_INDEX_ENTRY_BYTES}`;
  }
  const count = bytes.length / OFFSET_INDEX_ENTRY_BYTES;
  if (count > OFFSET_INDEX_ENTRIES_MAX) {
    return `${count} entries exceed the bound of ${OFFSET_INDEX_ENTRIES_MAX}`;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const index = new OffsetIndex();
  let previousOffset = -1;
  let previousPosition = -1;
  for (let entry = 0; entry < count; entry++) {
    const relativeOffset = view.getUint32(entry * OFFSET_INDEX_ENTRY_BYTES);
    const position = view.getUint32(entry * OFFSET_INDEX_ENTRY_BYTES + 4);
    if (entry === 0 && (relativeOffset !== 0 || position !== 0)) {
      return 'first entry is not (0, 0)';
    }
    if (relativeOffset <= previousOffset || position <= previousPosition) {
      return `entry ${entry} does not increase`;
    }
    if (relativeOffset >= recordCount || position >= logBytes) {
      return `entry ${entry} points past the end of the segment`;
    }
    index.append(relativeOffset, position);
    previousOffset = relativeOffset;
    previousPosition = position;
  }
  return index;
}
