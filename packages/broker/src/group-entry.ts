/**
 * What a consumer group keeps per record in its windows: the record's fields as a delivered message
 * carries them (key and headers as text, the body copied out of the read buffer), its size as the
 * window's byte bound counts it, and the delivery state `DeliveryWindow` keeps. Entries are built
 * straight from a read's stored batches ({@link ReadEntries}): no record object, key, value or
 * header views or header tuples in between (docs/benchmarks.md, "Catch-up: records decoded into
 * entries").
 */
import type { PendingEntry } from '@herald/bus/internal';
import {
  decodeRecordBatchInto,
  type ReadResult,
  type RecordBuilder,
  type RecordFields,
  recordBatchSize,
} from '@herald/log';

/** A record in a group's window. */
export interface Entry extends PendingEntry {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  readonly sizeBytes: number;
  /** When a held entry returns to the group unless settled. */
  visibleAtMs: number;
}

const decoder = new TextDecoder();

/**
 * `bytes[start, start + length)` as text. A read's batches are a Buffer, and
 * `Buffer#toString(encoding, start, end)` decodes in place: no view per field, and about half the
 * time `TextDecoder.decode` takes for a short string (a CloudEvent carries about ten headers, all
 * decoded per record). Invalid UTF-8 becomes U+FFFD either way.
 */
function text(bytes: Uint8Array, start: number, length: number): string {
  return Buffer.isBuffer(bytes)
    ? bytes.toString('utf8', start, start + length)
    : decoder.decode(bytes.subarray(start, start + length));
}

/**
 * A copy of `bytes[start, start + length)`, so a delivered message does not keep the whole read
 * buffer (up to `fetchBytesMax`) alive. `Buffer.allocUnsafe` takes a small body from Node's shared
 * 8 KiB pool (as `Buffer.from` does, without the view it would copy from); every byte is
 * overwritten by the copy.
 */
function copy(bytes: Uint8Array, start: number, length: number): Uint8Array {
  if (!Buffer.isBuffer(bytes)) return bytes.slice(start, start + length);
  const body = Buffer.allocUnsafe(length);
  bytes.copy(body, 0, start, start + length);
  return body;
}

/**
 * The group's entry for the record in `fields` of `partition`, or undefined below `from` (a read
 * starts at the batch holding the offset asked for): headers and key as text, the body copied.
 */
function toEntry(partition: number, from: bigint, fields: RecordFields): Entry | undefined {
  const offset = fields.offset;
  if (offset < from) return undefined;
  const bytes = fields.bytes;
  const headers: Record<string, string> = {};
  const valueLength = fields.valueLength;
  const keyLength = fields.keyLength;
  let sizeBytes = Math.max(valueLength, 0) + Math.max(keyLength, 0);
  const names = fields.headerNames;
  const starts = fields.headerValueStarts;
  const lengths = fields.headerValueLengths;
  for (let index = 0; index < fields.headerCount; index++) {
    const name = names[index]!;
    const length = lengths[index]!;
    headers[name] = length === -1 ? '' : text(bytes, starts[index]!, length);
    sizeBytes += name.length + Math.max(length, 0);
  }
  return {
    partition,
    offset,
    key: keyLength === -1 ? undefined : text(bytes, fields.keyStart, keyLength),
    headers,
    body: valueLength === -1 ? new Uint8Array(0) : copy(bytes, fields.valueStart, valueLength),
    timestampMs: fields.timestampMs,
    sizeBytes,
    // `waitingEntry()`'s fields, written out: a spread per record costs an object and a copy.
    attempt: 1,
    visibleAtMs: 0,
  };
}

/**
 * The entries of one read of `partition` from `from` on, decoded a batch at a time as they are
 * taken. A consumer group keeps what a read returned beyond its window's room (its read-ahead)
 * and takes entries as acks free room, so decoding up front would keep every record of the read
 * alive as objects for that whole time: with 1 MiB reads of 100-byte records, some 9,000 objects
 * per partition, old enough to be promoted, which is what made a catch-up's heap grow to
 * gigabytes. Decoded lazily, at most one batch of entries is alive per read beside the raw bytes.
 */
export class ReadEntries {
  readonly #read: ReadResult;
  readonly #build: RecordBuilder<Entry>;
  /** Where the next batch to decode starts in the read's bytes, and how many are left. */
  #position = 0;
  #batchesLeft: number;
  /** The decoded batch being taken from. */
  #entries: Entry[] = [];
  #next = 0;

  constructor(read: ReadResult, partition: number, from: bigint) {
    this.#read = read;
    this.#batchesLeft = read.batchCount;
    this.#build = (fields) => toEntry(partition, from, fields);
  }

  /**
   * The next entry, or undefined once the read is spent. Throws `LOG_INVALID_BATCH` when a stored
   * batch (which passed its CRC) does not decode.
   */
  next(): Entry | undefined {
    // Bounded by the read's batches: each pass decodes one (a batch may hold none at or above `from`).
    while (this.#next >= this.#entries.length) {
      if (this.#batchesLeft === 0) return undefined;
      const batches = this.#read.batches;
      const size = recordBatchSize(batches, this.#position);
      const entries: Entry[] = [];
      decodeRecordBatchInto(batches, this.#position, {}, this.#build, entries);
      this.#position += size;
      this.#batchesLeft -= 1;
      this.#entries = entries;
      this.#next = 0;
    }
    return this.#entries[this.#next++];
  }
}
