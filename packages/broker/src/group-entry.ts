/**
 * What a consumer group keeps per record in its windows: the record's fields as a delivered message
 * carries them (key and headers as text, the body copied out of the read buffer), its size as the
 * window's byte bound counts it, and the delivery state `DeliveryWindow` keeps. Entries are built
 * straight from a read's stored batches ({@link ReadEntries}): no record object, key, value or
 * header views or header tuples in between (docs/benchmarks.md, "Catch-up: records decoded into
 * entries").
 */
import { KeyedFifoEntry, type PendingEntry } from '@herald/bus/internal';
import {
  BATCH_ATTRIBUTE,
  BATCH_FIELD,
  type DecodeRecordsOptions,
  decodeRecordBatchInto,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_HEADER_BYTES,
  type ReadResult,
  type RecordBuilder,
  type RecordFields,
} from '@herald/log';

/** The decode options of a group's reads: the defaults, one object rather than one per batch. */
const NO_OPTIONS: DecodeRecordsOptions = {};

/**
 * A record in a group's window. It is its own window entry (`KeyedFifo.enqueueEntry`, its `value`
 * is itself): one object per record, not the group's entry and the window's beside it.
 */
export class Entry extends KeyedFifoEntry<Entry> implements PendingEntry {
  readonly partition: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  /** See {@link PendingEntry}: 1 until the first release. */
  attempt = 1;
  /** When a held entry returns to the group unless settled. */
  visibleAtMs = 0;

  constructor(
    partition: number,
    offset: bigint,
    key: string | undefined,
    headers: Readonly<Record<string, string>>,
    body: Uint8Array,
    timestampMs: number,
    sizeBytes: number,
  ) {
    // The value is the entry itself, set once `this` exists.
    super(undefined as unknown as Entry, key, offset, sizeBytes);
    this.value = this;
    this.partition = partition;
    this.headers = headers;
    this.body = body;
    this.timestampMs = timestampMs;
  }
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
 * The header value last decoded at each place of a record (the `index`th header), kept only when
 * it is one byte per character (`length` UTF-16 units from `length` bytes: ASCII, or U+FFFD for a
 * lone invalid byte, which never equals a byte). A CloudEvent's spec version, type, source,
 * content type and data version, and within a millisecond its time, repeat byte for byte at the
 * same place in every record of a stream, and decoding each with `Buffer#toString` is a native
 * call and a new string per header per record (`text` and the `utf8Slice` under it: 2.4% of the
 * samples of a `bus e2e` profile, 0.35 µs a record in `bench/_entry-decode.ts`).
 * Comparing the bytes with the cached string's characters needs no copy of the bytes: equal
 * lengths and every byte equal to its character mean the bytes are that ASCII text. The compare
 * runs from the end, where a UUID's random digits or a time's milliseconds differ first, so a
 * value that changes per record costs about one compare. Bounded: the first
 * {@link HEADER_VALUES_CACHED_MAX} places, values of at most {@link HEADER_VALUE_BYTES_CACHED_MAX}
 * bytes (a CloudEvent has about ten headers, its constant values are well under 64 bytes).
 */
const HEADER_VALUES_CACHED_MAX = 32;
const HEADER_VALUE_BYTES_CACHED_MAX = 64;
const headerValuesCached: (string | undefined)[] = new Array<string | undefined>(
  HEADER_VALUES_CACHED_MAX,
).fill(undefined);

/**
 * The key and the header values of the record being built that were decoded (not taken from the
 * cache above), one byte per character each: a value that changes per record often equals one of
 * them (the bus's `ce_partitionkey` is the record's key; a root event's `ce_correlationid` is its
 * `ce_id`), and is then that string, not a second decode. Bounded: the first
 * {@link RECORD_VALUES_REUSED_MAX} of a record, of at most {@link HEADER_VALUE_BYTES_CACHED_MAX}
 * bytes, so a miss compares against at most that many and a long key is not kept alive (a bus
 * event decodes at most three per record, its key, `ce_id` and `ce_time` when its millisecond
 * changed; its `ce_partitionkey` and a root event's `ce_correlationid` are then reused).
 */
const RECORD_VALUES_REUSED_MAX = 4;
const recordValues: string[] = [];
let recordValueCount = 0;

/** Whether `bytes[start, start + length)` are the characters of `value`, which has `length` of them. */
function sameAscii(bytes: Uint8Array, start: number, length: number, value: string): boolean {
  let at = length - 1;
  while (at >= 0 && bytes[start + at] === value.charCodeAt(at)) at--;
  return at < 0;
}

/** `bytes[start, start + length)` as text, remembered for the rest of the record when it can be. */
function decodedValue(bytes: Uint8Array, start: number, length: number): string {
  for (let index = 0; index < recordValueCount; index++) {
    const earlier = recordValues[index]!;
    if (earlier.length === length && sameAscii(bytes, start, length, earlier)) return earlier;
  }
  const value = text(bytes, start, length);
  if (
    value.length === length &&
    length <= HEADER_VALUE_BYTES_CACHED_MAX &&
    recordValueCount < RECORD_VALUES_REUSED_MAX
  ) {
    recordValues[recordValueCount++] = value;
  }
  return value;
}

/** The value of the `index`th header at `bytes[start, start + length)`, as text (see above). */
function headerValue(bytes: Uint8Array, start: number, length: number, index: number): string {
  if (index >= HEADER_VALUES_CACHED_MAX || length > HEADER_VALUE_BYTES_CACHED_MAX) {
    return text(bytes, start, length);
  }
  const cached = headerValuesCached[index];
  if (cached !== undefined && cached.length === length && sameAscii(bytes, start, length, cached)) {
    return cached;
  }
  const value = decodedValue(bytes, start, length);
  headerValuesCached[index] = value.length === length ? value : undefined;
  return value;
}

/**
 * The private copy of the uncompressed batch being decoded ({@link ReadEntries}), or undefined.
 * Set and cleared around one synchronous decode, so {@link body} knows that `fields.bytes` is a
 * copy no one else writes to or keeps: a body is then a view into it.
 */
let batchCopy: Buffer | undefined;

/**
 * The body at `bytes[start, start + length)`, never a view into the read buffer, so a delivered
 * message does not keep the whole read buffer (up to `fetchBytesMax`) alive or change if that
 * buffer is reused. In the batch's own copy, a view of it: one copy per batch instead of an
 * allocation and a copy per record (docs/benchmarks.md, "Catch-up: fourth pass"); a body then
 * keeps at most its batch alive, not the read. Otherwise (a compressed batch's decompressed bytes)
 * a copy of its own: `Buffer.allocUnsafe` takes a small body from Node's shared pool (64 KiB in
 * Node 24), as `Buffer.from` does without the view it would copy from; every byte is overwritten.
 */
function body(bytes: Uint8Array, start: number, length: number): Uint8Array {
  if (bytes === batchCopy) return batchCopy.subarray(start, start + length);
  if (!Buffer.isBuffer(bytes)) return bytes.slice(start, start + length);
  const copied = Buffer.allocUnsafe(length);
  bytes.copy(copied, 0, start, start + length);
  return copied;
}

/**
 * The headers of every record that has none: one frozen object, not an empty one per record (56
 * bytes each, a twentieth of what a headerless record's catch-up allocated). A message's headers
 * are read-only in the contract (`TransportMessage`); frozen, a handler that writes to them anyway
 * gets a `TypeError` rather than changing other messages' headers.
 */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * The group's entry for the record in `fields` of `partition`, or undefined below `from` (a read
 * starts at the batch holding the offset asked for): headers and key as text, the body out of the
 * read buffer (see {@link body}).
 */
function toEntry(partition: number, from: bigint, fields: RecordFields): Entry | undefined {
  const offset = fields.offset;
  if (offset < from) return undefined;
  const bytes = fields.bytes;
  const headerCount = fields.headerCount;
  const headers: Record<string, string> = headerCount === 0 ? NO_HEADERS : {};
  const valueLength = fields.valueLength;
  const keyLength = fields.keyLength;
  let sizeBytes = Math.max(valueLength, 0) + Math.max(keyLength, 0);
  const names = fields.headerNames;
  const starts = fields.headerValueStarts;
  const lengths = fields.headerValueLengths;
  recordValueCount = 0;
  const key = keyLength === -1 ? undefined : decodedValue(bytes, fields.keyStart, keyLength);
  for (let index = 0; index < headerCount; index++) {
    const name = names[index]!;
    const length = lengths[index]!;
    headers[name] = length === -1 ? '' : headerValue(bytes, starts[index]!, length, index);
    sizeBytes += name.length + Math.max(length, 0);
  }
  return new Entry(
    partition,
    offset,
    key,
    headers,
    valueLength === -1 ? new Uint8Array(0) : body(bytes, fields.valueStart, valueLength),
    fields.timestampMs,
    sizeBytes,
  );
}

/**
 * Largest batch whose records' bodies are views of one copy of it: 64 KiB, the size of Node 24's
 * shared buffer pool slab (`Buffer.poolSize`), which a body copied on its own may keep alive
 * anyway. So a body a handler holds on to keeps at most 64 KiB alive either way; a larger batch
 * (one large publish) copies each body, as before.
 */
export const BODY_VIEW_BATCH_BYTES_MAX = 64 * 1024;

/**
 * A copy of the uncompressed batch at `batches[position…]`, for its records' bodies to be views
 * of, or undefined when the batch is compressed (its records are decoded from decompressed bytes,
 * each body copied), larger than {@link BODY_VIEW_BATCH_BYTES_MAX}, or its length does not fit
 * (`decodeRecordBatchInto` then reports it).
 * `Buffer.allocUnsafe`: a batch under half of `Buffer.poolSize` (32 KiB in Node 24) is a slice of
 * Node's shared pool slab, a larger one an allocation of its own; every byte is overwritten by the
 * copy. So a held body keeps at most one slab (64 KiB) or its own batch (at most
 * {@link BODY_VIEW_BATCH_BYTES_MAX}) alive, the bound a body copied on its own has anyway. A
 * caught-up group reads batches of one record each (one per publish): an `allocUnsafeSlow` per
 * batch, a new ArrayBuffer per message, was 0.7 µs of the 12 µs CPU per message of
 * `transport e2e` (docs/benchmarks.md, "The live end-to-end path").
 */
function ownCopy(batches: Uint8Array, position: number): Buffer | undefined {
  if (!Buffer.isBuffer(batches) || position + RECORD_BATCH_HEADER_BYTES > batches.length) return undefined;
  if ((batches.readInt16BE(position + BATCH_FIELD.attributes) & BATCH_ATTRIBUTE.compressionMask) !== 0)
    return undefined;
  const size = LOG_OVERHEAD_BYTES + batches.readInt32BE(position + BATCH_FIELD.batchLength);
  if (size < RECORD_BATCH_HEADER_BYTES || size > batches.length - position) return undefined;
  if (size > BODY_VIEW_BATCH_BYTES_MAX) return undefined;
  const own = Buffer.allocUnsafe(size);
  batches.copy(own, 0, position, position + size);
  return own;
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
   * The next entry, left in place until {@link take}, or undefined once the read is spent. Throws
   * `LOG_INVALID_BATCH` when a stored batch (which passed its CRC) does not decode.
   */
  peek(): Entry | undefined {
    // Bounded by the read's batches: each pass decodes one (a batch may hold none at or above `from`).
    while (this.#next >= this.#entries.length) {
      if (this.#batchesLeft === 0) return undefined;
      const entries: Entry[] = [];
      const own = ownCopy(this.#read.batches, this.#position);
      batchCopy = own;
      try {
        this.#position +=
          own === undefined
            ? decodeRecordBatchInto(this.#read.batches, this.#position, NO_OPTIONS, this.#build, entries)
            : decodeRecordBatchInto(own, 0, NO_OPTIONS, this.#build, entries);
      } finally {
        batchCopy = undefined;
      }
      this.#batchesLeft -= 1;
      this.#entries = entries;
      this.#next = 0;
    }
    return this.#entries[this.#next];
  }

  /** Moves past the entry {@link peek} returned. */
  take(): void {
    this.#next += 1;
  }

  /** {@link peek} and {@link take}: the next entry, or undefined once the read is spent. */
  next(): Entry | undefined {
    const entry = this.peek();
    if (entry !== undefined) this.take();
    return entry;
  }
}
