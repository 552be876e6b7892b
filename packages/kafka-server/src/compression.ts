/**
 * Registers pure-JS snappy (snappyjs) and lz4 (lz4js) codecs with `@herald/log`, so stored batches
 * in those codecs can be decoded where the server reads records (ListOffsets by timestamp). Record
 * batches themselves are stored and served opaque, so producers and consumers of any codec work
 * without the server decompressing anything on the hot path.
 */
import { COMPRESSION_CODEC_IDS, registerCompressionCodec } from '@herald/log';
import * as lz4 from 'lz4js';
import * as snappy from 'snappyjs';

/** xerial snappy framing (Java and kafka-python producers): magic, version, compatible version. */
const XERIAL_MAGIC = Uint8Array.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_BLOCK_BYTES = 32 * 1024;

function isXerial(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_BYTES) return false;
  for (let index = 0; index < XERIAL_MAGIC.length; index++)
    if (data[index] !== XERIAL_MAGIC[index]) return false;
  return true;
}

function snappyDecompress(data: Uint8Array, outputBytesMax: number): Uint8Array {
  if (!isXerial(data)) return snappy.uncompress(data, outputBytesMax);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const blocks: Uint8Array[] = [];
  let total = 0;
  let at = XERIAL_HEADER_BYTES;
  while (at < data.length) {
    if (at + 4 > data.length) throw new Error('truncated xerial snappy block header');
    const size = view.getInt32(at);
    at += 4;
    if (size < 0 || at + size > data.length)
      throw new Error(`xerial snappy block of ${size} bytes overruns the data`);
    const block = snappy.uncompress(data.subarray(at, at + size), outputBytesMax - total);
    total += block.length;
    blocks.push(block);
    at += size;
  }
  return Buffer.concat(blocks, total);
}

function snappyCompress(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [XERIAL_MAGIC, Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 1])];
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappy.compress(data.subarray(at, Math.min(data.length, at + XERIAL_BLOCK_BYTES)));
    const size = Buffer.alloc(4);
    size.writeInt32BE(block.length);
    parts.push(size, block);
  }
  return Buffer.concat(parts);
}

function lz4Decompress(data: Uint8Array, outputBytesMax: number): Uint8Array {
  // lz4js sizes its output from the frame (declared content size or block count), which a hostile
  // frame controls: allocate at most the limit, and since typed arrays drop out-of-range writes,
  // a decompressed length past the buffer means the frame is larger than allowed.
  const bound = lz4.decompressBound(data);
  const capacity = Math.min(Number.isFinite(bound) && bound >= 0 ? bound : outputBytesMax, outputBytesMax);
  const output = new Uint8Array(capacity);
  const length = lz4.decompressFrame(data, output);
  if (!(length <= capacity)) {
    throw new Error(`lz4 frame decompresses past the limit of ${outputBytesMax} bytes`);
  }
  return output.subarray(0, length);
}

let registered = false;

/** Registers the snappy and lz4 codecs once per process. */
export function registerPureJsCodecs(): void {
  if (registered) return;
  registered = true;
  registerCompressionCodec({
    id: COMPRESSION_CODEC_IDS.snappy,
    name: 'snappy',
    compress: snappyCompress,
    decompress: (data, outputBytesMax) => wrap('snappy', () => snappyDecompress(data, outputBytesMax)),
  });
  registerCompressionCodec({
    id: COMPRESSION_CODEC_IDS.lz4,
    name: 'lz4',
    compress: (data) => lz4.compress(data),
    decompress: (data, outputBytesMax) => wrap('lz4', () => lz4Decompress(data, outputBytesMax)),
  });
}

function wrap(name: string, run: () => Uint8Array): Uint8Array {
  try {
    return run();
  } catch (cause) {
    throw new Error(`cannot decompress ${name} records: ${(cause as Error).message}`, { cause });
  }
}
