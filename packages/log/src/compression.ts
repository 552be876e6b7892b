/**
 * Compression codecs for RecordBatch v2 (attribute bits 0-2). gzip and zstd come from `node:zlib`;
 * snappy (2) and lz4 (3) have no implementation in Node, so callers can plug one in with
 * {@link registerCompressionCodec} without this package depending on a native addon.
 *
 * Decompression is always bounded by an output limit so a small malicious batch cannot inflate
 * into gigabytes ("zip bomb").
 */

import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { LogError } from './errors.ts';

/** Kafka's codec ids (attribute bits 0-2). */
export const COMPRESSION_CODEC_IDS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** A codec name: `none`, `gzip`, `snappy`, `lz4` or `zstd`. */
export type CompressionName = keyof typeof COMPRESSION_CODEC_IDS;

/** One pluggable codec. */
export interface CompressionCodec {
  /** Kafka codec id (1 gzip, 2 snappy, 3 lz4, 4 zstd). */
  readonly id: number;
  /** Human-readable name, used in error messages. */
  readonly name: string;
  /** Compresses a record stream. */
  compress(data: Uint8Array): Uint8Array;
  /**
   * Decompresses a record stream; must throw when the output would exceed `outputBytesMax`.
   */
  decompress(data: Uint8Array, outputBytesMax: number): Uint8Array;
}

const codecs = new Map<number, CompressionCodec>();

/** Registers (or replaces) the codec for `codec.id`, e.g. a snappy or lz4 implementation. */
export function registerCompressionCodec(codec: CompressionCodec): void {
  if (!Number.isInteger(codec.id) || codec.id < 1 || codec.id > 7) {
    throw new LogError('LOG_INVALID_ARGUMENT', `codec id ${codec.id} is not a compression id; use 1-7`);
  }
  codecs.set(codec.id, codec);
}

/** The registered codec for `id`, or undefined (0, "none", never has one). */
export function findCompressionCodec(id: number): CompressionCodec | undefined {
  return codecs.get(id);
}

/** The registered codec for `id`; throws `LOG_UNSUPPORTED_COMPRESSION` when none is registered. */
export function requireCompressionCodec(id: number): CompressionCodec {
  const codec = codecs.get(id);
  if (codec === undefined) {
    const name = Object.entries(COMPRESSION_CODEC_IDS).find(([, value]) => value === id)?.[0] ?? 'unknown';
    throw new LogError(
      'LOG_UNSUPPORTED_COMPRESSION',
      `compression codec ${id} (${name}) is not registered; register one with registerCompressionCodec() or have the producer use gzip, zstd or none`,
    );
  }
  return codec;
}

function bounded(name: string, run: () => Uint8Array): Uint8Array {
  try {
    return run();
  } catch (cause) {
    throw new LogError(
      'LOG_INVALID_BATCH',
      `cannot decompress ${name} records: ${cause instanceof Error ? cause.message : String(cause)}; the batch is corrupt or larger than the decompression limit`,
      { cause },
    );
  }
}

registerCompressionCodec({
  id: COMPRESSION_CODEC_IDS.gzip,
  name: 'gzip',
  compress: (data) => gzipSync(data),
  decompress: (data, outputBytesMax) =>
    bounded('gzip', () => gunzipSync(data, { maxOutputLength: Math.max(1, outputBytesMax) })),
});

registerCompressionCodec({
  id: COMPRESSION_CODEC_IDS.zstd,
  name: 'zstd',
  compress: (data) => zstdCompressSync(data),
  decompress: (data, outputBytesMax) =>
    bounded('zstd', () => zstdDecompressSync(data, { maxOutputLength: Math.max(1, outputBytesMax) })),
});
