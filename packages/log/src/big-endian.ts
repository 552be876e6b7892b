/**
 * Big-endian reads of a stored batch's header fields straight from its bytes. A `DataView` per
 * batch (`new DataView` is a runtime call and an object) was the largest JS item of checking and
 * decoding a caught-up group's reads, where every batch holds one record (one per publish): about
 * a fifth of the 1.2 µs per record of `bench/_live-read.ts` (docs/benchmarks.md, "The live
 * end-to-end path"). Callers check that the field lies within the bytes first: a byte past the end
 * reads as 0 here, where a DataView would throw.
 */

/** The signed 32-bit integer at `bytes[position…position + 4)`. */
export function int32At(bytes: Uint8Array, position: number): number {
  return (
    (bytes[position]! << 24) |
    (bytes[position + 1]! << 16) |
    (bytes[position + 2]! << 8) |
    bytes[position + 3]!
  );
}

/** The unsigned 32-bit integer at `bytes[position…position + 4)`. */
export function uint32At(bytes: Uint8Array, position: number): number {
  return int32At(bytes, position) >>> 0;
}

/** The signed 16-bit integer at `bytes[position…position + 2)`. */
export function int16At(bytes: Uint8Array, position: number): number {
  return (((bytes[position]! << 8) | bytes[position + 1]!) << 16) >> 16;
}

/** The signed 8-bit integer at `bytes[position]`. */
export function int8At(bytes: Uint8Array, position: number): number {
  return (bytes[position]! << 24) >> 24;
}

/**
 * The signed 64-bit integer at `bytes[position…position + 8)` as a number, rounded to the nearest
 * double as `Number(DataView#getBigInt64)` rounds it: `high * 2^32` is exact and the one addition
 * rounds once, to nearest even, as the conversion of the exact value does.
 */
export function int64NumberAt(bytes: Uint8Array, position: number): number {
  return int32At(bytes, position) * 4294967296 + uint32At(bytes, position + 4);
}

/** `2^21`: a high word below it makes a 64-bit value below `2^53`, exact as a number. */
const SAFE_HIGH_WORD_LIMIT = 0x200000;

/**
 * The signed 64-bit integer at `bytes[position…position + 8)` as a bigint: one `BigInt` of a safe
 * number when it is one (every offset a log reaches), exact bigint arithmetic otherwise.
 */
export function int64At(bytes: Uint8Array, position: number): bigint {
  const high = int32At(bytes, position);
  const low = uint32At(bytes, position + 4);
  return high >= 0 && high < SAFE_HIGH_WORD_LIMIT
    ? BigInt(high * 4294967296 + low)
    : (BigInt(high) << 32n) + BigInt(low);
}
