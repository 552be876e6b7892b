/**
 * Zig-zag varints as used by Kafka record fields (protobuf sint32/sint64): the signed value is
 * zig-zag mapped to unsigned, then written 7 bits per byte, least-significant group first, with the
 * high bit set on every byte but the last. At most 5 bytes for a varint and 10 for a varlong.
 *
 * Varlongs are JavaScript numbers, not bigints: they carry timestamp deltas, which are far below
 * 2^53. Decoding a varlong beyond the safe-integer range is reported as malformed rather than
 * silently rounded.
 */

import { LogError } from './errors.ts';

/** A read position inside a byte array; decoders advance `position`. */
export interface ByteCursor {
  position: number;
}

const VARINT_BYTES_MAX = 5;
const VARLONG_BYTES_MAX = 10;

function malformed(what: string, position: number): LogError {
  return new LogError(
    'LOG_INVALID_BATCH',
    `malformed ${what} at byte ${position}; the batch is corrupt or was not encoded as Kafka RecordBatch v2`,
  );
}

/** Bytes needed to encode the signed 32-bit `value` as a zig-zag varint. */
export function varintSize(value: number): number {
  let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
  let size = 1;
  while (unsigned >= 0x80) {
    unsigned >>>= 7;
    size++;
  }
  return size;
}

/** Writes the signed 32-bit `value` as a zig-zag varint at `position`; returns the next position. */
export function writeVarint(target: Uint8Array, position: number, value: number): number {
  let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
  let index = position;
  while (unsigned >= 0x80) {
    target[index++] = (unsigned & 0x7f) | 0x80;
    unsigned >>>= 7;
  }
  target[index++] = unsigned;
  return index;
}

function zigzagLong(value: number): number {
  // Number arithmetic instead of shifts: shifts in JavaScript truncate to 32 bits.
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Bytes needed to encode the safe integer `value` as a zig-zag varlong. */
export function varlongSize(value: number): number {
  let unsigned = zigzagLong(value);
  let size = 1;
  while (unsigned >= 0x80) {
    unsigned = Math.floor(unsigned / 128);
    size++;
  }
  return size;
}

/** Writes the safe integer `value` as a zig-zag varlong at `position`; returns the next position. */
export function writeVarlong(target: Uint8Array, position: number, value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) {
    return writeVarint(target, position, value);
  }
  let unsigned = zigzagLong(value);
  let index = position;
  while (unsigned >= 0x80) {
    target[index++] = (unsigned % 128) | 0x80;
    unsigned = Math.floor(unsigned / 128);
  }
  target[index++] = unsigned;
  return index;
}

/**
 * Reads a zig-zag varint from `bytes` at `cursor.position`, never past `end`, and advances the
 * cursor. Throws `LOG_INVALID_BATCH` when the bytes end early or the encoding is longer than 5 bytes.
 */
export function readVarint(bytes: Uint8Array, cursor: ByteCursor, end: number): number {
  let unsigned = 0;
  let shift = 0;
  let index = cursor.position;
  for (let count = 0; count < VARINT_BYTES_MAX; count++) {
    if (index >= end) {
      throw malformed('varint (truncated)', cursor.position);
    }
    const byte = bytes[index++]!;
    if (count === VARINT_BYTES_MAX - 1 && byte > 0x0f) {
      throw malformed('varint (more than 32 bits)', cursor.position);
    }
    unsigned |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) {
      cursor.position = index;
      return (unsigned >>> 1) ^ -(unsigned & 1);
    }
    shift += 7;
  }
  throw malformed('varint (longer than 5 bytes)', cursor.position);
}

/**
 * Reads a zig-zag varlong like {@link readVarint}, up to 10 bytes. Values outside the safe-integer
 * range are rejected as malformed.
 */
export function readVarlong(bytes: Uint8Array, cursor: ByteCursor, end: number): number {
  let unsigned = 0;
  let multiplier = 1;
  let index = cursor.position;
  for (let count = 0; count < VARLONG_BYTES_MAX; count++) {
    if (index >= end) {
      throw malformed('varlong (truncated)', cursor.position);
    }
    const byte = bytes[index++]!;
    unsigned += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      if (unsigned > Number.MAX_SAFE_INTEGER) {
        throw malformed('varlong (beyond 2^53)', cursor.position);
      }
      cursor.position = index;
      return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
    }
    multiplier *= 128;
  }
  throw malformed('varlong (longer than 10 bytes)', cursor.position);
}
