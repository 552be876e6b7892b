/**
 * Reads Kafka primitives from one request frame. Every length and count read from the wire is
 * checked against the bytes left in the frame before anything is allocated (KAFKA-14063: a count
 * of INT32_MAX must not allocate an array of INT32_MAX), and the number of decoded array elements
 * is capped per frame so that even a frame full of tiny elements stays within a memory budget.
 */
import { KafkaProtocolError } from './errors.ts';

/** Default cap on array elements decoded from one frame. */
export const ELEMENTS_PER_FRAME_MAX = 200_000;

const decoder = new TextDecoder('utf-8');

/** A cursor over one frame's bytes. */
export class Reader {
  /** The frame's bytes (strings and byte fields are views into them). */
  readonly bytes: Uint8Array;
  /** Next byte to read. */
  offset: number;
  /** End of the readable region (exclusive). */
  readonly end: number;
  readonly #view: DataView;
  #elementsLeft: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length, elementsMax = ELEMENTS_PER_FRAME_MAX) {
    this.bytes = bytes;
    this.offset = offset;
    this.end = end;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#elementsLeft = elementsMax;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.offset;
  }

  #need(count: number, what: string): void {
    if (count > this.end - this.offset) {
      throw new KafkaProtocolError(
        'KAFKA_MALFORMED',
        `${what} needs ${count} bytes at byte ${this.offset} but only ${this.end - this.offset} remain in the frame`,
      );
    }
  }

  int8(): number {
    this.#need(1, 'int8');
    return this.#view.getInt8(this.offset++);
  }

  int16(): number {
    this.#need(2, 'int16');
    const value = this.#view.getInt16(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.#need(4, 'int32');
    const value = this.#view.getInt32(this.offset);
    this.offset += 4;
    return value;
  }

  int64(): bigint {
    this.#need(8, 'int64');
    const value = this.#view.getBigInt64(this.offset);
    this.offset += 8;
    return value;
  }

  float64(): number {
    this.#need(8, 'float64');
    const value = this.#view.getFloat64(this.offset);
    this.offset += 8;
    return value;
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  /** A UUID as 32 lowercase hex digits. */
  uuid(): string {
    this.#need(16, 'uuid');
    let hex = '';
    for (let index = 0; index < 16; index++)
      hex += this.bytes[this.offset + index]!.toString(16).padStart(2, '0');
    this.offset += 16;
    return hex;
  }

  /** An unsigned varint of at most 5 bytes (32 bits), as used by compact lengths and tags. */
  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      this.#need(1, 'unsigned varint');
      const byte = this.bytes[this.offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new KafkaProtocolError(
      'KAFKA_MALFORMED',
      `unsigned varint at byte ${this.offset} is longer than 5 bytes`,
    );
  }

  /** A zigzag varint of at most 32 bits. */
  varint(): number {
    const raw = this.unsignedVarint();
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** A zigzag varlong of at most 64 bits. */
  varlong(): bigint {
    let raw = 0n;
    for (let shift = 0n; shift <= 63n; shift += 7n) {
      this.#need(1, 'varlong');
      const byte = this.bytes[this.offset++]!;
      raw |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (raw >> 1n) ^ -(raw & 1n);
    }
    throw new KafkaProtocolError('KAFKA_MALFORMED', `varlong at byte ${this.offset} is longer than 10 bytes`);
  }

  #length(length: number, nullable: boolean, what: string): number | null {
    if (length === -1 && nullable) return null;
    if (length < 0) {
      throw new KafkaProtocolError(
        'KAFKA_MALFORMED',
        `${what} has negative length ${length} at byte ${this.offset}`,
      );
    }
    this.#need(length, what);
    return length;
  }

  #text(length: number): string {
    const text = decoder.decode(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return text;
  }

  /** An int16-length string; `null` only when `nullable` (length -1). */
  string(nullable = false): string | null {
    const length = this.#length(this.int16(), nullable, 'string');
    return length === null ? null : this.#text(length);
  }

  /** A compact string (unsigned varint length + 1; 0 is null). */
  compactString(nullable = false): string | null {
    const length = this.#length(this.unsignedVarint() - 1, nullable, 'compact string');
    return length === null ? null : this.#text(length);
  }

  #slice(length: number): Uint8Array {
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  /** int32-length bytes, as a view into the frame. */
  byteArray(nullable = false): Uint8Array | null {
    const length = this.#length(this.int32(), nullable, 'bytes');
    return length === null ? null : this.#slice(length);
  }

  /** Compact bytes (unsigned varint length + 1), as a view into the frame. */
  compactByteArray(nullable = false): Uint8Array | null {
    const length = this.#length(this.unsignedVarint() - 1, nullable, 'compact bytes');
    return length === null ? null : this.#slice(length);
  }

  #count(count: number, nullable: boolean, what: string): number | null {
    if (count === -1 && nullable) return null;
    if (count < 0) {
      throw new KafkaProtocolError(
        'KAFKA_MALFORMED',
        `${what} has negative count ${count} at byte ${this.offset}`,
      );
    }
    // Every element takes at least one byte, so a count above the bytes left is a lie.
    this.#need(count, `${what} of ${count} elements`);
    if (count > this.#elementsLeft) {
      throw new KafkaProtocolError(
        'KAFKA_TOO_MANY_ELEMENTS',
        `${what} of ${count} elements exceeds the ${this.#elementsLeft} elements left in this frame's budget`,
      );
    }
    this.#elementsLeft -= count;
    return count;
  }

  /** An int32 array count; `null` only when `nullable` (count -1). */
  arrayCount(nullable = false): number | null {
    return this.#count(this.int32(), nullable, 'array');
  }

  /** A compact array count (unsigned varint count + 1; 0 is null). */
  compactArrayCount(nullable = false): number | null {
    return this.#count(this.unsignedVarint() - 1, nullable, 'compact array');
  }

  /**
   * Reads a tagged-field section; calls `onTag` with a bounded reader for each tag it knows
   * (returns true) and skips the others.
   */
  taggedFields(onTag?: (tag: number, reader: Reader) => boolean): void {
    const count = this.#count(this.unsignedVarint(), false, 'tagged fields');
    let previous = -1;
    for (let index = 0; index < count!; index++) {
      const tag = this.unsignedVarint();
      if (tag <= previous) {
        throw new KafkaProtocolError(
          'KAFKA_MALFORMED',
          `tagged field ${tag} is not above the previous tag ${previous}`,
        );
      }
      previous = tag;
      const size = this.unsignedVarint();
      this.#need(size, `tagged field ${tag}`);
      const end = this.offset + size;
      if (onTag !== undefined) {
        const sub = new Reader(this.bytes, this.offset, end, this.#elementsLeft);
        if (onTag(tag, sub) && sub.offset !== end) {
          throw new KafkaProtocolError(
            'KAFKA_MALFORMED',
            `tagged field ${tag} has ${end - sub.offset} trailing bytes`,
          );
        }
      }
      this.offset = end;
    }
  }
}
