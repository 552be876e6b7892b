/**
 * Kafka RecordBatch v2 ("magic 2") codec: encodes batches, decodes and validates batch headers
 * without decompressing, and decodes records. The log stores exactly these bytes on disk, so a
 * Kafka wire-protocol server can hand client batches to `appendBatch` and fetch results straight
 * back out. Layout (all integers big-endian):
 *
 * ```
 * 0 BaseOffset int64 | 8 BatchLength int32 | 12 PartitionLeaderEpoch int32 | 16 Magic int8
 * 17 CRC uint32 (CRC-32C of bytes 21..end) | 21 Attributes int16 | 23 LastOffsetDelta int32
 * 27 BaseTimestamp int64 | 35 MaxTimestamp int64 | 43 ProducerId int64 | 51 ProducerEpoch int16
 * 53 BaseSequence int32 | 57 RecordsCount int32 | 61 Records (compressed as one stream if compressed)
 * ```
 *
 * Every length read from bytes is checked against the bytes remaining before anything is
 * allocated or sliced, so a corrupt or hostile batch fails with `LOG_INVALID_BATCH` instead of
 * over-reading or allocating unbounded memory.
 */

import { int8At, int32At, uint32At } from './big-endian.ts';
import { COMPRESSION_CODEC_IDS, type CompressionName, requireCompressionCodec } from './compression.ts';
import { crc32c } from './crc32c.ts';
import { invariant, LogError } from './errors.ts';
import { varintSize, varlongSize, writeVarint, writeVarlong } from './varint.ts';

/** Bytes of the fixed batch header before the records. */
export const RECORD_BATCH_HEADER_BYTES = 61;
/** BaseOffset + BatchLength: the bytes not counted by BatchLength. */
export const LOG_OVERHEAD_BYTES = 12;
/** The only magic value this codec reads or writes. */
export const RECORD_BATCH_MAGIC = 2;
/** First byte covered by the CRC (Attributes). */
export const CRC_START_BYTE = 21;

/** Byte positions of the header fields, relative to the batch start. */
export const BATCH_FIELD = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordsCount: 57,
} as const;

/** Attribute bit masks. */
export const BATCH_ATTRIBUTE = {
  compressionMask: 0x07,
  logAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

/** One header of a record: a UTF-8 key (never null) and a value (null allowed). */
export type RecordHeader = readonly [key: string, value: Uint8Array | null];

/**
 * One header of a record to encode: like {@link RecordHeader}, but the value may also be a string,
 * written as UTF-8 straight into the batch (decoded records always carry bytes). Callers whose
 * header values are text (the broker's CloudEvents headers) skip a copy per header this way.
 */
export type RecordHeaderInput = readonly [key: string, value: Uint8Array | string | null];

/**
 * The headers of a record to encode as one object of string values, written in `Object.keys`
 * order (own enumerable names: integer-like names first, then insertion order), each value as
 * UTF-8. The broker hands a transport message's header object this way: no `[name, value]` array
 * per header (docs/benchmarks.md, "The bus event's headers on publish").
 */
export type RecordHeaderObject = Readonly<Record<string, string>>;

/** A record to encode. */
export interface RecordInput {
  /** Key bytes; null or absent for no key. */
  readonly key?: Uint8Array | null;
  /** Value bytes; null for a tombstone. */
  readonly value: Uint8Array | null;
  /**
   * Headers in order; a string value is stored as its UTF-8 bytes. An object's headers are stored
   * exactly as the pairs `Object.keys(object).map((name) => [name, object[name]])` would be.
   */
  readonly headers?: readonly RecordHeaderInput[] | RecordHeaderObject;
  /** CreateTime in ms since the epoch; defaults to the batch's `timestampMs` option (now). */
  readonly timestampMs?: number;
}

/** A decoded record. Key, value and header values are views into the batch bytes, not copies. */
export interface LogRecord {
  /** Absolute offset of the record. */
  readonly offset: bigint;
  /** Record timestamp in ms (CreateTime, or the batch's MaxTimestamp under LogAppendTime). */
  readonly timestampMs: number;
  /** Key bytes or null. */
  readonly key: Uint8Array | null;
  /** Value bytes or null. */
  readonly value: Uint8Array | null;
  /** Headers in order. */
  readonly headers: RecordHeader[];
}

/** The fixed header fields of a batch. */
export interface RecordBatchHeader {
  /** Offset of the first record. */
  readonly baseOffset: bigint;
  /** Bytes after the BatchLength field; the whole batch is `batchLength + 12` bytes. */
  readonly batchLength: number;
  /** Leader epoch stamped by the broker, -1 for none. */
  readonly partitionLeaderEpoch: number;
  /** Always 2. */
  readonly magic: number;
  /** Stored CRC-32C (unsigned). */
  readonly crc: number;
  /** Raw attribute bits. */
  readonly attributes: number;
  /** Codec id from attribute bits 0-2. */
  readonly compression: number;
  /** Offset of the last record minus the base offset. */
  readonly lastOffsetDelta: number;
  /** Timestamp of the first record (ms), -1 for none. */
  readonly baseTimestampMs: number;
  /** Largest record timestamp (ms). */
  readonly timestampMsMax: number;
  /** Producer id, -1n for none. */
  readonly producerId: bigint;
  /** Producer epoch, -1 for none. */
  readonly producerEpoch: number;
  /** Sequence of the first record, -1 for none. */
  readonly baseSequence: number;
  /** Number of records. */
  readonly recordsCount: number;
}

/** Options of {@link encodeRecordBatch}. */
export interface EncodeRecordBatchOptions {
  /** BaseOffset to write; the log overwrites it on append. Default 0n. */
  readonly baseOffset?: bigint;
  /** PartitionLeaderEpoch to write. Default -1. */
  readonly partitionLeaderEpoch?: number;
  /** Codec for the records. Default `none`. */
  readonly compression?: CompressionName;
  /** Timestamp for records without one. Default `Date.now()`. */
  readonly timestampMs?: number;
  /** Producer id (idempotent producers). Default -1n. */
  readonly producerId?: bigint;
  /** Producer epoch. Default -1. */
  readonly producerEpoch?: number;
  /** Sequence of the first record. Default -1. */
  readonly baseSequence?: number;
  /** Set the transactional attribute bit. Default false. */
  readonly transactional?: boolean;
  /**
   * Refuse (`LOG_RECORD_TOO_LARGE`) a record with more bytes of key, value and headers than this,
   * measured in the same pass that sizes the batch. Default: no limit.
   */
  readonly recordBytesMax?: number;
}

const EMPTY_HEADERS: readonly RecordHeaderInput[] = [];
const utf8Encoder = new TextEncoder();

/** `LOG_INVALID_BATCH` for `reason` (shared with the record decoder, record-decode.ts). */
export function invalid(reason: string, cause?: unknown): LogError {
  return new LogError(
    'LOG_INVALID_BATCH',
    `invalid record batch: ${reason}; send Kafka RecordBatch v2 (magic 2) bytes with a correct length and CRC-32C`,
    cause === undefined ? {} : { cause },
  );
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * UTF-8 byte lengths of the header names and string values of the batch being encoded, in the
 * order {@link writeRecord} writes them: {@link recordBodySize} measures each once and the write
 * reuses it (the bus's events carry about ten string headers, and measuring each three times was
 * a tenth of an embedded publish's CPU). A typed array reused across batches (an array emptied
 * per batch reallocated its storage each time); past {@link HEADER_LENGTHS_KEPT} entries it is
 * dropped after the batch, so what stays between batches is bounded.
 */
let headerLengths = new Int32Array(256);
/** Entries of {@link headerLengths} written for the batch being encoded. */
let headerLengthsCount = 0;
/** Next entry of {@link headerLengths} that {@link writeRecord} reads. */
let headerLengthsRead = 0;
/** The most entries {@link headerLengths} keeps between batches (16 KiB). */
const HEADER_LENGTHS_KEPT = 4096;
/** Bytes of key, value and headers of the record {@link recordBodySize} last measured. */
let lastRecordInputBytes = 0;
/** Up to this many UTF-16 units, an ASCII string is measured and copied by a loop rather than by `Buffer`. */
const ASCII_LOOP_UNITS_MAX = 64;

function noteHeaderLength(bytes: number): void {
  if (headerLengthsCount === headerLengths.length) {
    const grown = new Int32Array(headerLengths.length * 2);
    grown.set(headerLengths);
    headerLengths = grown;
  }
  headerLengths[headerLengthsCount++] = bytes;
}

/**
 * UTF-8 length of `text`: a short ASCII string's is its length, found by a loop (cheaper than the
 * native `Buffer.byteLength` call for the short names and values of headers).
 */
function utf8Length(text: string): number {
  const units = text.length;
  if (units <= ASCII_LOOP_UNITS_MAX) {
    let index = 0;
    while (index < units && text.charCodeAt(index) < 0x80) index++;
    if (index === units) return units;
  }
  return Buffer.byteLength(text, 'utf8');
}

/**
 * The header strings last measured at each place of a record (name of header `i` at `2i`, its
 * string value at `2i + 1`) and their UTF-8 lengths. A producer's records repeat most of their
 * headers (a CloudEvent's names, and its type, source, spec version and content type are the same
 * string objects on every event of a contract), and a string equal to the one measured at its place
 * is not measured again: `===` on the same string object is a pointer compare. Bounded: the first
 * {@link MEASURED_PLACES_MAX} places, strings of at most {@link ASCII_LOOP_UNITS_MAX} UTF-16 units.
 */
const MEASURED_PLACES_MAX = 64;
const measuredTexts = new Array<string | undefined>(MEASURED_PLACES_MAX).fill(undefined);
const measuredBytes = new Int32Array(MEASURED_PLACES_MAX);

/** {@link utf8Length} of `text`, remembered for the next record's header at `place`. */
function measuredUtf8Length(text: string, place: number): number {
  if (place >= MEASURED_PLACES_MAX) return utf8Length(text);
  if (text === measuredTexts[place]) return measuredBytes[place]!;
  const bytes = utf8Length(text);
  if (text.length <= ASCII_LOOP_UNITS_MAX) {
    measuredTexts[place] = text;
    measuredBytes[place] = bytes;
  }
  return bytes;
}

function recordBodySize(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + varlongSize(timestampDelta) + varintSize(offsetDelta);
  const key = record.key ?? null;
  size += key === null ? 1 : varintSize(key.length) + key.length;
  const value = record.value;
  size += value === null ? 1 : varintSize(value.length) + value.length;
  let inputBytes = (key === null ? 0 : key.length) + (value === null ? 0 : value.length);
  const headers = record.headers ?? EMPTY_HEADERS;
  if (!Array.isArray(headers)) {
    size += headerObjectSize(headers as RecordHeaderObject);
    lastRecordInputBytes += inputBytes;
    return size;
  }
  size += varintSize(headers.length);
  for (let index = 0; index < headers.length; index++) {
    const header = headers[index]!;
    const keyBytes = measuredUtf8Length(header[0], 2 * index);
    noteHeaderLength(keyBytes);
    size += varintSize(keyBytes) + keyBytes;
    const headerValue = header[1];
    let valueBytes: number;
    if (typeof headerValue === 'string') {
      valueBytes = measuredUtf8Length(headerValue, 2 * index + 1);
      noteHeaderLength(valueBytes);
    } else {
      valueBytes = headerValue === null ? -1 : headerValue.length;
    }
    size += valueBytes < 0 ? 1 : varintSize(valueBytes) + valueBytes;
    inputBytes += keyBytes + Math.max(valueBytes, 0);
  }
  lastRecordInputBytes = inputBytes;
  return size;
}

/**
 * Encoded size of a header object (its count and headers), as {@link recordBodySize} measures
 * pairs; notes the count, then each name's and value's UTF-8 length, for {@link writeHeaderObject}.
 * Sets {@link lastRecordInputBytes} to the headers' bytes. `for...in` with an own-property check
 * walks `Object.keys`' names in its order without the array (the check keeps out names an
 * object's prototype would add; V8 turns `hasOwnProperty.call` on the `for...in` key into the
 * enum-cache check, where `Object.hasOwn` doubled the loop's time in a micro-benchmark).
 */
function headerObjectSize(headers: RecordHeaderObject): number {
  const countEntry = headerLengthsCount;
  noteHeaderLength(0);
  let size = 0;
  let inputBytes = 0;
  let place = 0;
  for (const name in headers) {
    // biome-ignore lint/suspicious/noPrototypeBuiltins: V8 folds this form into the for-in's enum-cache check; Object.hasOwn doubled the loop's time.
    if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
    const headerValue = headers[name];
    if (typeof headerValue !== 'string') {
      throw new LogError(
        'LOG_INVALID_ARGUMENT',
        `header ${JSON.stringify(name)} is not a string; a header object's values must be strings`,
      );
    }
    const keyBytes = measuredUtf8Length(name, place);
    const valueBytes = measuredUtf8Length(headerValue, place + 1);
    noteHeaderLength(keyBytes);
    noteHeaderLength(valueBytes);
    size += varintSize(keyBytes) + keyBytes + varintSize(valueBytes) + valueBytes;
    inputBytes += keyBytes + valueBytes;
    place += 2;
  }
  headerLengths[countEntry] = place / 2;
  lastRecordInputBytes = inputBytes;
  return size + varintSize(place / 2);
}

/** Writes a header object measured by {@link headerObjectSize} at `position`; returns the next position. */
function writeHeaderObject(target: Buffer, position: number, headers: RecordHeaderObject): number {
  let cursor = writeVarint(target, position, headerLengths[headerLengthsRead++]!);
  for (const name in headers) {
    // biome-ignore lint/suspicious/noPrototypeBuiltins: V8 folds this form into the for-in's enum-cache check; Object.hasOwn doubled the loop's time.
    if (!Object.prototype.hasOwnProperty.call(headers, name)) continue;
    const keyBytes = headerLengths[headerLengthsRead++]!;
    cursor = writeUtf8(target, writeVarint(target, cursor, keyBytes), name, keyBytes);
    const valueBytes = headerLengths[headerLengthsRead++]!;
    cursor = writeUtf8(target, writeVarint(target, cursor, valueBytes), headers[name]!, valueBytes);
  }
  return cursor;
}

/**
 * Writes `text`, whose UTF-8 length `bytes` was measured, at `position`; returns the next
 * position. A string as long in bytes as in UTF-16 units is ASCII, and a short one is copied by a
 * loop: cheaper than `Buffer#write`'s argument checks and native call for the short header names
 * and values of an event.
 */
function writeUtf8(target: Buffer, position: number, text: string, bytes: number): number {
  if (bytes === text.length && bytes <= ASCII_LOOP_UNITS_MAX) {
    for (let index = 0; index < bytes; index++) target[position + index] = text.charCodeAt(index);
    return position + bytes;
  }
  return position + target.write(text, position, bytes, 'utf8');
}

function writeBytesField(target: Buffer, position: number, bytes: Uint8Array | null): number {
  if (bytes === null) {
    return writeVarint(target, position, -1);
  }
  const next = writeVarint(target, position, bytes.length);
  target.set(bytes, next);
  return next + bytes.length;
}

function writeRecord(
  target: Buffer,
  position: number,
  record: RecordInput,
  bodySize: number,
  timestampDelta: number,
  offsetDelta: number,
): number {
  let cursor = writeVarint(target, position, bodySize);
  const bodyStart = cursor;
  target[cursor++] = 0;
  cursor = writeVarlong(target, cursor, timestampDelta);
  cursor = writeVarint(target, cursor, offsetDelta);
  cursor = writeBytesField(target, cursor, record.key ?? null);
  cursor = writeBytesField(target, cursor, record.value);
  const headers = record.headers ?? EMPTY_HEADERS;
  if (!Array.isArray(headers)) {
    cursor = writeHeaderObject(target, cursor, headers as RecordHeaderObject);
    invariant(cursor - bodyStart === bodySize, 'record body size matches its precomputed size');
    return cursor;
  }
  cursor = writeVarint(target, cursor, headers.length);
  for (let index = 0; index < headers.length; index++) {
    const header = headers[index]!;
    const keyBytes = headerLengths[headerLengthsRead++]!;
    cursor = writeUtf8(target, writeVarint(target, cursor, keyBytes), header[0], keyBytes);
    const headerValue = header[1];
    if (typeof headerValue === 'string') {
      const valueBytes = headerLengths[headerLengthsRead++]!;
      cursor = writeUtf8(target, writeVarint(target, cursor, valueBytes), headerValue, valueBytes);
    } else {
      cursor = writeBytesField(target, cursor, headerValue);
    }
  }
  invariant(cursor - bodyStart === bodySize, 'record body size matches its precomputed size');
  return cursor;
}

/**
 * Writes a safe integer as a big-endian int64 without a BigInt allocation (the append hot path
 * writes two timestamps per batch). Internal.
 */
export function writeSafeInt64(target: Buffer, position: number, value: number): void {
  const high = Math.floor(value / 0x100000000);
  target.writeInt32BE(high, position);
  target.writeUInt32BE(value - high * 0x100000000, position + 4);
}

/**
 * Writes a bigint as a big-endian int64, through two 32-bit writes when it is a safe integer
 * (always, for offsets in practice): `writeBigInt64BE` allocates intermediate BigInts, and the
 * append path stamps a base offset on every batch. Internal.
 */
export function writeInt64(target: Buffer, position: number, value: bigint): void {
  const number = Number(value);
  if (Number.isSafeInteger(number)) {
    writeSafeInt64(target, position, number);
  } else {
    target.writeBigInt64BE(value, position);
  }
}

/**
 * Headers are `[name, value]` pairs or a plain object (an object literal, or one without a
 * prototype): a `Map`, a class instance or a typed array would be walked as an object without own
 * enumerable names and stored as no headers at all, so they are refused instead.
 */
function isHeaderInput(headers: unknown): boolean {
  if (Array.isArray(headers)) return true;
  if (typeof headers !== 'object' || headers === null) return false;
  const prototype = Object.getPrototypeOf(headers);
  return prototype === Object.prototype || prototype === null;
}

function checkRecordInput(record: RecordInput, index: number): void {
  const fine =
    typeof record === 'object' &&
    record !== null &&
    (record.value === null || record.value instanceof Uint8Array) &&
    (record.key === undefined || record.key === null || record.key instanceof Uint8Array) &&
    (record.timestampMs === undefined || Number.isSafeInteger(record.timestampMs)) &&
    (record.headers === undefined || isHeaderInput(record.headers));
  if (!fine) {
    throw new LogError(
      'LOG_INVALID_ARGUMENT',
      `record ${index} is malformed; pass {value: Uint8Array | null, key?: Uint8Array | null, headers?: [string, Uint8Array | string | null][] | {[name]: string}, timestampMs?: integer}`,
    );
  }
}

/**
 * Encodes `records` as one RecordBatch v2 (CreateTime timestamps). The CRC is computed last, over
 * the finished bytes. Throws `LOG_INVALID_BATCH` for an empty list.
 */
export function encodeRecordBatch(
  records: readonly RecordInput[],
  options: EncodeRecordBatchOptions = {},
): Buffer {
  return encodeBatch(records, options, true);
}

/**
 * {@link encodeRecordBatch} without the CRC (its field left as it is): for the partition writer,
 * which may merge the batch with others of its write group and seals what it writes
 * (batch-merge.ts). Internal; not exported from the package.
 */
export function encodeUnsealedRecordBatch(
  records: readonly RecordInput[],
  options: EncodeRecordBatchOptions,
): Buffer {
  return encodeBatch(records, options, false);
}

function encodeBatch(
  records: readonly RecordInput[],
  options: EncodeRecordBatchOptions,
  seal: boolean,
): Buffer {
  if (records.length === 0) {
    throw invalid('a batch needs at least one record');
  }
  const nowMs = options.timestampMs ?? Date.now();
  const first = records[0]!;
  checkRecordInput(first, 0);
  const baseTimestampMs = first.timestampMs ?? nowMs;
  let timestampMsMax = baseTimestampMs;
  const recordBytesMax = options.recordBytesMax ?? Number.POSITIVE_INFINITY;
  const bodySizes = new Array<number>(records.length);
  let recordsBytes = 0;
  headerLengthsCount = 0;
  headerLengthsRead = 0;
  try {
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      checkRecordInput(record, index);
      const timestampMs = record.timestampMs ?? nowMs;
      if (timestampMs > timestampMsMax) {
        timestampMsMax = timestampMs;
      }
      const bodySize = recordBodySize(record, timestampMs - baseTimestampMs, index);
      if (lastRecordInputBytes > recordBytesMax) {
        throw new LogError(
          'LOG_RECORD_TOO_LARGE',
          `record ${index} has ${lastRecordInputBytes} bytes of key, value and headers, above recordBytesMax ${recordBytesMax}; split the payload or raise recordBytesMax`,
        );
      }
      bodySizes[index] = bodySize;
      recordsBytes += varintSize(bodySize) + bodySize;
    }
    return writeRecordBatch(
      records,
      options,
      nowMs,
      baseTimestampMs,
      timestampMsMax,
      bodySizes,
      recordsBytes,
      seal,
    );
  } finally {
    if (headerLengths.length > HEADER_LENGTHS_KEPT) headerLengths = new Int32Array(256);
  }
}

/** The second pass of {@link encodeRecordBatch}: writes the sized records and the header. */
function writeRecordBatch(
  records: readonly RecordInput[],
  options: EncodeRecordBatchOptions,
  nowMs: number,
  baseTimestampMs: number,
  timestampMsMax: number,
  bodySizes: readonly number[],
  recordsBytes: number,
  seal: boolean,
): Buffer {
  const compression = COMPRESSION_CODEC_IDS[options.compression ?? 'none'];
  let compressed: Uint8Array | null = null;
  if (compression !== 0) {
    const plain = Buffer.allocUnsafe(recordsBytes);
    let cursor = 0;
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      cursor = writeRecord(
        plain,
        cursor,
        record,
        bodySizes[index]!,
        (record.timestampMs ?? nowMs) - baseTimestampMs,
        index,
      );
    }
    compressed = requireCompressionCodec(compression).compress(plain);
  }
  const totalBytes = RECORD_BATCH_HEADER_BYTES + (compressed === null ? recordsBytes : compressed.length);
  const batch = Buffer.allocUnsafe(totalBytes);
  writeInt64(batch, BATCH_FIELD.baseOffset, options.baseOffset ?? 0n);
  batch.writeInt32BE(totalBytes - LOG_OVERHEAD_BYTES, BATCH_FIELD.batchLength);
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, BATCH_FIELD.partitionLeaderEpoch);
  batch[BATCH_FIELD.magic] = RECORD_BATCH_MAGIC;
  batch.writeInt16BE(
    compression | (options.transactional === true ? BATCH_ATTRIBUTE.transactional : 0),
    BATCH_FIELD.attributes,
  );
  batch.writeInt32BE(records.length - 1, BATCH_FIELD.lastOffsetDelta);
  writeSafeInt64(batch, BATCH_FIELD.baseTimestamp, baseTimestampMs);
  writeSafeInt64(batch, BATCH_FIELD.maxTimestamp, timestampMsMax);
  writeInt64(batch, BATCH_FIELD.producerId, options.producerId ?? -1n);
  batch.writeInt16BE(options.producerEpoch ?? -1, BATCH_FIELD.producerEpoch);
  batch.writeInt32BE(options.baseSequence ?? -1, BATCH_FIELD.baseSequence);
  batch.writeInt32BE(records.length, BATCH_FIELD.recordsCount);
  if (compressed === null) {
    let cursor = RECORD_BATCH_HEADER_BYTES;
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      cursor = writeRecord(
        batch,
        cursor,
        record,
        bodySizes[index]!,
        (record.timestampMs ?? nowMs) - baseTimestampMs,
        index,
      );
    }
    invariant(cursor === totalBytes, 'encoded batch fills its buffer exactly');
  } else {
    batch.set(compressed, RECORD_BATCH_HEADER_BYTES);
  }
  if (seal) batch.writeUInt32BE(crc32c(batch, CRC_START_BYTE, totalBytes), BATCH_FIELD.crc);
  return batch;
}

/**
 * Total size in bytes of the batch starting at `position` (BatchLength + 12), read from its
 * length field. Throws `LOG_INVALID_BATCH` when fewer than 12 bytes remain before `end`.
 */
export function recordBatchSize(bytes: Uint8Array, position = 0, end = bytes.length): number {
  if (end - position < LOG_OVERHEAD_BYTES) {
    throw invalid(`only ${end - position} bytes left at byte ${position}, a batch needs at least 61`);
  }
  return view(bytes).getInt32(position + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
}

/**
 * Decodes the 61-byte header of the batch at `position` without touching the records (no
 * decompression, no CRC check). Checks that the header fits in `bytes[position, end)` and that the
 * magic is 2.
 */
export function decodeRecordBatchHeader(
  bytes: Uint8Array,
  position = 0,
  end = bytes.length,
): RecordBatchHeader {
  if (end - position < RECORD_BATCH_HEADER_BYTES) {
    throw invalid(`only ${end - position} bytes left at byte ${position}, a batch header needs 61`);
  }
  const data = view(bytes);
  const magic = data.getInt8(position + BATCH_FIELD.magic);
  if (magic !== RECORD_BATCH_MAGIC) {
    throw invalid(`magic is ${magic}, expected 2`);
  }
  const attributes = data.getInt16(position + BATCH_FIELD.attributes);
  return {
    baseOffset: data.getBigInt64(position + BATCH_FIELD.baseOffset),
    batchLength: data.getInt32(position + BATCH_FIELD.batchLength),
    partitionLeaderEpoch: data.getInt32(position + BATCH_FIELD.partitionLeaderEpoch),
    magic,
    crc: data.getUint32(position + BATCH_FIELD.crc),
    attributes,
    compression: attributes & BATCH_ATTRIBUTE.compressionMask,
    lastOffsetDelta: data.getInt32(position + BATCH_FIELD.lastOffsetDelta),
    baseTimestampMs: Number(data.getBigInt64(position + BATCH_FIELD.baseTimestamp)),
    timestampMsMax: Number(data.getBigInt64(position + BATCH_FIELD.maxTimestamp)),
    producerId: data.getBigInt64(position + BATCH_FIELD.producerId),
    producerEpoch: data.getInt16(position + BATCH_FIELD.producerEpoch),
    baseSequence: data.getInt32(position + BATCH_FIELD.baseSequence),
    recordsCount: data.getInt32(position + BATCH_FIELD.recordsCount),
  };
}

/**
 * Why the batch at `bytes[position, end)` is not a valid stored batch, or undefined when it is:
 * the header fits, the length is at least the header and fits in what remains, magic is 2, the
 * CRC-32C matches, the record count is at least 1 and equals LastOffsetDelta + 1 (offsets dense).
 * Used by recovery, where a reason (not an exception) decides between truncating and refusing.
 */
export function findRecordBatchProblem(
  bytes: Uint8Array,
  position = 0,
  end = bytes.length,
): string | undefined {
  const remaining = end - position;
  if (remaining < LOG_OVERHEAD_BYTES) {
    return `torn batch: only ${remaining} bytes left, the length field needs 12`;
  }
  const batchLength = int32At(bytes, position + BATCH_FIELD.batchLength);
  const size = batchLength + LOG_OVERHEAD_BYTES;
  if (size < RECORD_BATCH_HEADER_BYTES) {
    return `batch length ${batchLength} is smaller than the 49-byte header remainder`;
  }
  if (size > remaining) {
    return `torn batch: length says ${size} bytes but only ${remaining} remain`;
  }
  // Byte reads, not a DataView per batch (big-endian.ts): each field lies within `size` bytes.
  const magic = magicProblem(int8At(bytes, position + BATCH_FIELD.magic));
  if (magic !== undefined) return magic;
  const stored = uint32At(bytes, position + BATCH_FIELD.crc);
  const computed = crc32c(bytes, position + CRC_START_BYTE, position + size);
  if (stored !== computed) return crcMismatch(stored, computed);
  return denseCountProblem(
    int32At(bytes, position + BATCH_FIELD.recordsCount),
    int32At(bytes, position + BATCH_FIELD.lastOffsetDelta),
  );
}

/** {@link findRecordBatchProblem}'s magic check (it comes before the CRC's), for scans that checksum apart. */
export function magicProblem(magic: number): string | undefined {
  return magic === RECORD_BATCH_MAGIC ? undefined : `magic is ${magic}, expected 2`;
}

/** {@link findRecordBatchProblem}'s CRC mismatch reason. */
export function crcMismatch(stored: number, computed: number): string {
  return `CRC-32C mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`;
}

/** {@link findRecordBatchProblem}'s dense-offsets check (it comes after the CRC's). */
export function denseCountProblem(count: number, lastOffsetDelta: number): string | undefined {
  return count >= 1 && lastOffsetDelta === count - 1
    ? undefined
    : `records count ${count} does not match last offset delta ${lastOffsetDelta} (offsets must be dense)`;
}

/** Throws `LOG_INVALID_BATCH` with the reason when {@link findRecordBatchProblem} finds one. */
export function verifyRecordBatch(bytes: Uint8Array, position = 0, end = bytes.length): RecordBatchHeader {
  const problem = findRecordBatchProblem(bytes, position, end);
  if (problem !== undefined) {
    throw invalid(problem);
  }
  return decodeRecordBatchHeader(bytes, position, end);
}

/** Overwrites BaseOffset of the batch at `position`. Outside the CRC range: the CRC stays valid. */
export function writeBatchBaseOffset(bytes: Uint8Array, position: number, baseOffset: bigint): void {
  view(bytes).setBigInt64(position + BATCH_FIELD.baseOffset, baseOffset);
}

/** Overwrites PartitionLeaderEpoch of the batch at `position`. Outside the CRC range. */
export function writeBatchLeaderEpoch(bytes: Uint8Array, position: number, leaderEpoch: number): void {
  view(bytes).setInt32(position + BATCH_FIELD.partitionLeaderEpoch, leaderEpoch);
}

/** UTF-8 bytes of `text`, a convenience for building records. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
