/** UUIDv7 (RFC 9562): time-ordered ids, so ids sort by creation time and index well. */
import { getRandomValues } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolIndex = POOL_BYTES;
let lastMs = 0;
let sequence = 0;

function randomBytes(count: number): Uint8Array {
  if (poolIndex + count > POOL_BYTES) {
    getRandomValues(pool);
    poolIndex = 0;
  }
  const slice = pool.subarray(poolIndex, poolIndex + count);
  poolIndex += count;
  return slice;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * Returns a new UUIDv7. Ids made by one process are strictly increasing: within one millisecond
 * the 12-bit `rand_a` field is a counter (RFC 9562 method 1), and the clock is never allowed to
 * step backwards.
 */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    sequence = randomBytes(1)[0]! & 0x3f; // Start low so a burst has room to count up.
  } else {
    ms = lastMs;
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1;
      ms = lastMs;
      sequence = 0;
    }
  }
  const bytes = new Uint8Array(16);
  bytes.set(randomBytes(8), 8);
  // 48-bit big-endian millisecond timestamp.
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | (sequence >>> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  let text = '';
  for (let index = 0; index < 16; index++) {
    if (index === 4 || index === 6 || index === 8 || index === 10) text += '-';
    text += HEX[bytes[index]!];
  }
  return text;
}
