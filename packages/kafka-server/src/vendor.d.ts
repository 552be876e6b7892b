/** Type declarations for the two pure-JS codec libraries (they ship none). */
declare module 'snappyjs' {
  /** Decompresses raw snappy; throws when the output would exceed `maxLength`. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  /** Compresses to raw snappy. */
  export function compress(uncompressed: Uint8Array): Uint8Array;
}

declare module 'lz4js' {
  /** Upper bound of a frame's decompressed size, read from the frame. */
  export function decompressBound(src: Uint8Array): number;
  /** Decompresses an LZ4 frame into `dst`; returns the decompressed length (may exceed `dst`). */
  export function decompressFrame(src: Uint8Array, dst: Uint8Array): number;
  /** Decompresses an LZ4 frame into at most `maxSize` bytes. */
  export function decompress(src: Uint8Array, maxSize?: number): Uint8Array;
  /** Compresses to an LZ4 frame. */
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array;
}
