/**
 * Writes Kafka primitives into a growing buffer. Large byte fields (record batches) are not
 * copied: they become chunks of their own, so a Fetch response is written with `writev` from the
 * log's read buffers.
 */
import { KafkaProtocolError } from './errors.ts';

/** Byte fields at least this large are kept as separate chunks instead of copied. */
const ZERO_COPY_BYTES_MIN = 4096;
const encoder = new TextEncoder();

/** A growing output. */
export class Writer {
  #buffer: Buffer;
  #position = 0;
  #start = 0;
  readonly #chunks: Uint8Array[] = [];
  #flushedBytes = 0;

  constructor(initialBytes = 256) {
    this.#buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#flushedBytes + this.#position - this.#start;
  }

  #ensure(count: number): void {
    if (this.#position + count <= this.#buffer.length) return;
    this.#flushCurrent();
    this.#buffer = Buffer.allocUnsafe(Math.max(count, this.#buffer.length * 2, 256));
    this.#position = 0;
    this.#start = 0;
  }

  #flushCurrent(): void {
    if (this.#position > this.#start) {
      this.#chunks.push(this.#buffer.subarray(this.#start, this.#position));
      this.#flushedBytes += this.#position - this.#start;
      this.#start = this.#position;
    }
  }

  int8(value: number): this {
    this.#ensure(1);
    this.#buffer.writeInt8(value, this.#position);
    this.#position += 1;
    return this;
  }

  int16(value: number): this {
    this.#ensure(2);
    this.#buffer.writeInt16BE(value, this.#position);
    this.#position += 2;
    return this;
  }

  int32(value: number): this {
    this.#ensure(4);
    this.#buffer.writeInt32BE(value, this.#position);
    this.#position += 4;
    return this;
  }

  int64(value: bigint): this {
    this.#ensure(8);
    this.#buffer.writeBigInt64BE(BigInt.asIntN(64, value), this.#position);
    this.#position += 8;
    return this;
  }

  float64(value: number): this {
    this.#ensure(8);
    this.#buffer.writeDoubleBE(value, this.#position);
    this.#position += 8;
    return this;
  }

  bool(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }

  /** A UUID given as 32 hex digits. */
  uuid(hex: string): this {
    if (!/^[0-9a-fA-F]{32}$/.test(hex))
      throw new KafkaProtocolError('KAFKA_ENCODE', `uuid "${hex}" is not 32 hex digits`);
    return this.raw(Buffer.from(hex, 'hex'));
  }

  unsignedVarint(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new KafkaProtocolError(
        'KAFKA_ENCODE',
        `unsigned varint ${value} is not a 32-bit unsigned integer`,
      );
    }
    this.#ensure(5);
    let rest = value;
    while (rest >= 0x80) {
      this.#buffer[this.#position++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.#buffer[this.#position++] = rest;
    return this;
  }

  varint(value: number): this {
    return this.unsignedVarint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  varlong(value: bigint): this {
    let rest = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    this.#ensure(10);
    while (rest >= 0x80n) {
      this.#buffer[this.#position++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.#buffer[this.#position++] = Number(rest);
    return this;
  }

  /** Raw bytes with no length prefix; large ones become their own chunk (not copied). */
  raw(bytes: Uint8Array): this {
    if (bytes.length >= ZERO_COPY_BYTES_MIN) {
      this.#flushCurrent();
      this.#chunks.push(bytes);
      this.#flushedBytes += bytes.length;
      return this;
    }
    this.#ensure(bytes.length);
    this.#buffer.set(bytes, this.#position);
    this.#position += bytes.length;
    return this;
  }

  /** An int16-length string (`null` writes length -1). */
  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const bytes = encoder.encode(value);
    if (bytes.length > 0x7fff)
      throw new KafkaProtocolError('KAFKA_ENCODE', `string of ${bytes.length} bytes exceeds 32767`);
    return this.int16(bytes.length).raw(bytes);
  }

  /** A compact string (`null` writes 0). */
  compactString(value: string | null): this {
    if (value === null) return this.unsignedVarint(0);
    const bytes = encoder.encode(value);
    return this.unsignedVarint(bytes.length + 1).raw(bytes);
  }

  /** int32-length bytes (`null` writes -1). */
  byteArray(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    return this.int32(value.length).raw(value);
  }

  /** Compact bytes (`null` writes 0). */
  compactByteArray(value: Uint8Array | null): this {
    if (value === null) return this.unsignedVarint(0);
    return this.unsignedVarint(value.length + 1).raw(value);
  }

  /** The written bytes as chunks (views; valid until the writer is reused). */
  chunks(): Uint8Array[] {
    this.#flushCurrent();
    return this.#chunks.slice();
  }

  /** The written bytes as one buffer (copies when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.chunks();
    if (chunks.length === 1)
      return Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength);
    return Buffer.concat(chunks);
  }
}
