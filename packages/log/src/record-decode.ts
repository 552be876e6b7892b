/**
 * Decoding the records of a stored RecordBatch v2 batch (record-batch.ts has the format, the
 * encoder and the batch header). One validating decoder, {@link decodeRecordBatchInto}, reports
 * each record as places in the bytes and lets its caller build what it keeps: a consumer group
 * builds its own window entry straight from the bytes, with no record object, key, value or
 * header views and header tuples in between (about 0.3 KB per record, most of it garbage within
 * microseconds: docs/benchmarks.md, "Catch-up: records decoded into entries");
 * {@link decodeRecordBatchRecords} builds {@link LogRecord}s of views for everyone else.
 */
import { int8At, int16At, int32At, int64At, int64NumberAt } from './big-endian.ts';
import { requireCompressionCodec } from './compression.ts';
import {
  BATCH_ATTRIBUTE,
  BATCH_FIELD,
  invalid,
  LOG_OVERHEAD_BYTES,
  type LogRecord,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  type RecordHeader,
} from './record-batch.ts';
import { type ByteCursor, readVarint, readVarlong } from './varint.ts';

/** Options of the record decoders. */
export interface DecodeRecordsOptions {
  /** Upper bound on the decompressed size of one batch's records. Default 64 MiB. */
  readonly decompressedBytesMax?: number;
}

const DECOMPRESSED_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
const utf8Decoder = new TextDecoder();

/**
 * One record of a batch as {@link decodeRecordBatchInto} hands it to its builder: its offset and
 * timestamp, and its key, value and header values as places in `bytes`. One object per decoded
 * batch, refilled for each record: a builder reads it during its call and keeps none of it but
 * `bytes` (and what it copies out).
 */
export interface RecordFields {
  /** The bytes the places are in: the batch given, or its records decompressed. */
  bytes: Uint8Array;
  /** Absolute offset of the record. */
  offset: bigint;
  /** Record timestamp in ms (CreateTime, or the batch's MaxTimestamp under LogAppendTime). */
  timestampMs: number;
  /** Where the key starts in `bytes`. */
  keyStart: number;
  /** Key length in bytes; -1 for a null key. */
  keyLength: number;
  /** Where the value starts in `bytes`. */
  valueStart: number;
  /** Value length in bytes; -1 for a null value (a tombstone). */
  valueLength: number;
  /** Headers of this record: the first `headerCount` entries of the three arrays below. */
  headerCount: number;
  /** Header names, decoded to text (a name repeated at its place is not decoded again). */
  readonly headerNames: string[];
  /** Where each header value starts in `bytes`. */
  readonly headerValueStarts: number[];
  /** Each header value's length in bytes; -1 for null. */
  readonly headerValueLengths: number[];
}

/** Builds what a caller keeps of one record; undefined keeps nothing (e.g. below a read's offset). */
export type RecordBuilder<T> = (fields: RecordFields) => T | undefined;

/**
 * The length of the bytes field at the cursor (-1 for null), checked against `end`; the cursor
 * moves past it.
 */
function readFieldLength(bytes: Uint8Array, cursor: ByteCursor, end: number, what: string): number {
  const length = readVarint(bytes, cursor, end);
  if (length === -1) {
    return -1;
  }
  if (length < -1 || length > end - cursor.position) {
    throw invalid(`${what} length ${length} exceeds the ${end - cursor.position} bytes left in the record`);
  }
  cursor.position += length;
  return length;
}

/**
 * The header names last decoded, by their place in the record, as bytes and text. The records of
 * a stream mostly repeat their names in the same order (a CloudEvent's ten `ce_` headers), so a
 * name whose bytes match the one before at its place is not decoded again (decoding took a view
 * and a `TextDecoder` call per header). Bounded: the first {@link HEADER_NAMES_CACHED_MAX}
 * places, names of at most {@link HEADER_NAME_BYTES_CACHED_MAX} bytes.
 */
const HEADER_NAMES_CACHED_MAX = 32;
const HEADER_NAME_BYTES_CACHED_MAX = 64;
const headerNameBytesCached: (Uint8Array | undefined)[] = [];
const headerNamesCached: string[] = [];

/** The header name at the cursor (the `headerIndex`th of record `recordIndex`), as text. */
function readHeaderName(
  bytes: Uint8Array,
  cursor: ByteCursor,
  end: number,
  headerIndex: number,
  recordIndex: number,
): string {
  const length = readVarint(bytes, cursor, end);
  if (length === -1) {
    throw invalid(`record ${recordIndex} has a header with a null key`);
  }
  if (length < -1 || length > end - cursor.position) {
    throw invalid(
      `header key length ${length} exceeds the ${end - cursor.position} bytes left in the record`,
    );
  }
  const start = cursor.position;
  cursor.position += length;
  const cached = headerIndex < HEADER_NAMES_CACHED_MAX ? headerNameBytesCached[headerIndex] : undefined;
  if (cached !== undefined && cached.length === length && sameBytes(cached, bytes, start)) {
    return headerNamesCached[headerIndex]!;
  }
  const name = utf8Decoder.decode(bytes.subarray(start, start + length));
  if (headerIndex < HEADER_NAMES_CACHED_MAX && length <= HEADER_NAME_BYTES_CACHED_MAX) {
    headerNameBytesCached[headerIndex] = new Uint8Array(bytes.subarray(start, start + length));
    headerNamesCached[headerIndex] = name;
  }
  return name;
}

/** Whether `bytes[start, start + expected.length)` equals `expected`. */
function sameBytes(expected: Uint8Array, bytes: Uint8Array, start: number): boolean {
  for (let index = 0; index < expected.length; index++) {
    if (bytes[start + index] !== expected[index]) return false;
  }
  return true;
}

/** The header fields of the batch being decoded that its records need. */
interface BatchFields {
  readonly baseOffset: bigint;
  readonly attributes: number;
  readonly baseTimestampMs: number;
  readonly timestampMsMax: number;
  readonly recordsCount: number;
}

/** A fresh {@link RecordFields} for `bytes`. */
function newFields(bytes: Uint8Array): RecordFields {
  return {
    bytes,
    offset: 0n,
    timestampMs: 0,
    keyStart: 0,
    keyLength: -1,
    valueStart: 0,
    valueLength: -1,
    headerCount: 0,
    headerNames: [],
    headerValueStarts: [],
    headerValueLengths: [],
  };
}

/**
 * The fields object and cursor of the decode under way, reused by the next one: a caught-up
 * group decodes one single-record batch per message, and a fields object with its three arrays
 * and a cursor per batch were garbage per message (docs/benchmarks.md, "The live end-to-end
 * path"). Taken while a decode runs, so a builder that decodes another batch (none does) gets
 * objects of its own; the header arrays keep at most the most headers one record had.
 */
let spareFields: RecordFields | undefined;
const NO_BYTES = new Uint8Array(0);
let spareCursor: ByteCursor | undefined;

function decodeRecordStream<T>(
  bytes: Uint8Array,
  start: number,
  end: number,
  header: BatchFields,
  build: RecordBuilder<T>,
  output: T[],
): void {
  const fields = spareFields ?? newFields(bytes);
  const cursor = spareCursor ?? { position: start };
  spareFields = undefined;
  spareCursor = undefined;
  try {
    fields.bytes = bytes;
    cursor.position = start;
    decodeRecords(bytes, end, header, build, output, fields, cursor);
  } finally {
    // Not kept past the decode: the bytes may be a read buffer or a large decompressed batch.
    fields.bytes = NO_BYTES;
    spareFields = fields;
    spareCursor = cursor;
  }
}

function decodeRecords<T>(
  bytes: Uint8Array,
  end: number,
  header: BatchFields,
  build: RecordBuilder<T>,
  output: T[],
  fields: RecordFields,
  cursor: ByteCursor,
): void {
  const logAppendTime = (header.attributes & BATCH_ATTRIBUTE.logAppendTime) !== 0;
  for (let index = 0; index < header.recordsCount; index++) {
    const length = readVarint(bytes, cursor, end);
    if (length < 0 || length > end - cursor.position) {
      throw invalid(`record ${index} length ${length} exceeds the ${end - cursor.position} bytes left`);
    }
    const recordEnd = cursor.position + length;
    cursor.position++; // attributes: unused in v2
    const timestampDelta = readVarlong(bytes, cursor, recordEnd);
    const offsetDelta = readVarint(bytes, cursor, recordEnd);
    fields.keyLength = readFieldLength(bytes, cursor, recordEnd, 'key');
    fields.keyStart = cursor.position - Math.max(fields.keyLength, 0);
    fields.valueLength = readFieldLength(bytes, cursor, recordEnd, 'value');
    fields.valueStart = cursor.position - Math.max(fields.valueLength, 0);
    const headerCount = readVarint(bytes, cursor, recordEnd);
    // Each header takes at least 2 bytes, which bounds the loop by the bytes actually present.
    if (headerCount < 0 || headerCount * 2 > recordEnd - cursor.position) {
      throw invalid(`record ${index} header count ${headerCount} does not fit in the record`);
    }
    for (let headerIndex = 0; headerIndex < headerCount; headerIndex++) {
      fields.headerNames[headerIndex] = readHeaderName(bytes, cursor, recordEnd, headerIndex, index);
      const valueLength = readFieldLength(bytes, cursor, recordEnd, 'header value');
      fields.headerValueStarts[headerIndex] = cursor.position - Math.max(valueLength, 0);
      fields.headerValueLengths[headerIndex] = valueLength;
    }
    fields.headerCount = headerCount;
    if (cursor.position !== recordEnd) {
      throw invalid(
        `record ${index} declared ${length} bytes but its fields used ${cursor.position - recordEnd + length}`,
      );
    }
    fields.offset = header.baseOffset + BigInt(offsetDelta);
    fields.timestampMs = logAppendTime ? header.timestampMsMax : header.baseTimestampMs + timestampDelta;
    const built = build(fields);
    if (built !== undefined) output.push(built);
  }
  if (cursor.position !== end) {
    throw invalid(`${end - cursor.position} bytes left after the ${header.recordsCount} declared records`);
  }
}

/**
 * Decodes the records of the batch at `bytes[position, position + size)`, decompressing when the
 * batch is compressed, and appends what `build` makes of each to `output`, in offset order. Does
 * not verify the CRC (see `verifyRecordBatch`); does check every length, the declared record
 * count and that no bytes are left over, before a record is handed to `build`. Returns the
 * batch's size in bytes, so a reader of back-to-back batches finds the next one.
 */
export function decodeRecordBatchInto<T>(
  bytes: Uint8Array,
  position: number,
  options: DecodeRecordsOptions,
  build: RecordBuilder<T>,
  output: T[],
): number {
  const header = decodeBatchFields(bytes, position);
  const batchLength = int32At(bytes, position + BATCH_FIELD.batchLength);
  const size = batchLength + LOG_OVERHEAD_BYTES;
  if (size < RECORD_BATCH_HEADER_BYTES || size > bytes.length - position) {
    throw invalid(`batch length ${batchLength} does not fit in the ${bytes.length - position} bytes given`);
  }
  const compression = header.attributes & BATCH_ATTRIBUTE.compressionMask;
  if (header.recordsCount < 0) {
    throw invalid(`negative records count ${header.recordsCount}`);
  }
  const recordsStart = position + RECORD_BATCH_HEADER_BYTES;
  const end = position + size;
  if (compression === 0) {
    // Each record takes at least 7 bytes, which bounds the count by the bytes present.
    if (header.recordsCount * 7 > end - recordsStart) {
      throw invalid(`records count ${header.recordsCount} cannot fit in ${end - recordsStart} bytes`);
    }
    decodeRecordStream(bytes, recordsStart, end, header, build, output);
  } else {
    const codec = requireCompressionCodec(compression);
    const plain = codec.decompress(
      bytes.subarray(recordsStart, end),
      options.decompressedBytesMax ?? DECOMPRESSED_BYTES_MAX_DEFAULT,
    );
    if (header.recordsCount * 7 > plain.length) {
      throw invalid(`records count ${header.recordsCount} cannot fit in ${plain.length} decompressed bytes`);
    }
    decodeRecordStream(plain, 0, plain.length, header, build, output);
  }
  return size;
}

/**
 * What {@link decodeRecordBatchInto} needs of the 61-byte header at `position`, read straight from
 * the bytes (big-endian.ts): `decodeRecordBatchHeader`'s checks (the header fits, magic 2), not
 * its DataView, full header object and producer id bigint per batch.
 */
function decodeBatchFields(bytes: Uint8Array, position: number): BatchFields {
  if (bytes.length - position < RECORD_BATCH_HEADER_BYTES) {
    throw invalid(`only ${bytes.length - position} bytes left at byte ${position}, a batch header needs 61`);
  }
  const magic = int8At(bytes, position + BATCH_FIELD.magic);
  if (magic !== RECORD_BATCH_MAGIC) throw invalid(`magic is ${magic}, expected 2`);
  return {
    baseOffset: int64At(bytes, position + BATCH_FIELD.baseOffset),
    attributes: int16At(bytes, position + BATCH_FIELD.attributes),
    baseTimestampMs: int64NumberAt(bytes, position + BATCH_FIELD.baseTimestamp),
    timestampMsMax: int64NumberAt(bytes, position + BATCH_FIELD.maxTimestamp),
    recordsCount: int32At(bytes, position + BATCH_FIELD.recordsCount),
  };
}

/** `bytes[start, start + length)` as a view, or null for length -1. */
function field(bytes: Uint8Array, start: number, length: number): Uint8Array | null {
  return length === -1 ? null : bytes.subarray(start, start + length);
}

/** A {@link LogRecord} of views into the decoded bytes. */
function toLogRecord(fields: RecordFields): LogRecord {
  const bytes = fields.bytes;
  const headers: RecordHeader[] = [];
  for (let index = 0; index < fields.headerCount; index++) {
    headers.push([
      fields.headerNames[index]!,
      field(bytes, fields.headerValueStarts[index]!, fields.headerValueLengths[index]!),
    ]);
  }
  return {
    offset: fields.offset,
    timestampMs: fields.timestampMs,
    key: field(bytes, fields.keyStart, fields.keyLength),
    value: field(bytes, fields.valueStart, fields.valueLength),
    headers,
  };
}

/**
 * Decodes the records of the batch at `bytes[position, position + size)`, decompressing when the
 * batch is compressed. Does not verify the CRC (see `verifyRecordBatch`); does check every
 * length, the declared record count and that no bytes are left over.
 */
export function decodeRecordBatchRecords(
  bytes: Uint8Array,
  position = 0,
  options: DecodeRecordsOptions = {},
): LogRecord[] {
  const output: LogRecord[] = [];
  decodeRecordBatchInto(bytes, position, options, toLogRecord, output);
  return output;
}
