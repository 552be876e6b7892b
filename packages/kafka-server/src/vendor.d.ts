/** Type declarations for the two pure-JS codec libraries (they ship none). */
declare module 'snappyjs' {
  /** Decompresses raw snappy; throws when the output would exceed `outputBytesMax`. */
  export function uncompress(compressed: Uint8Array, outputBytesMax?: number): Uint8Array;
  /** Compresses to raw snappy. */
  export function compress(uncompressed: Uint8Array): Uint8Array;
}

declare module 'lz4js' {
  /** Upper bound of a frame's decompressed size, read from the frame. */
  export function decompressBound(src: Uint8Array): number;
  /** Decompresses an LZ4 frame into `dst`; returns the decompressed length (may exceed `dst`). */
  export function decompressFrame(src: Uint8Array, dst: Uint8Array): number;
  /** Decompresses an LZ4 frame into at most `outputBytesMax` bytes. */
  export function decompress(src: Uint8Array, outputBytesMax?: number): Uint8Array;
  /** Compresses to an LZ4 frame. */
  export function compress(src: Uint8Array, outputBytesMax?: number): Uint8Array;
}
