/** UUIDv7 (RFC 9562): time-ordered ids, so ids sort by creation time and index well. */
import { getRandomValues } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let poolIndex = POOL_BYTES;
let lastMs = 0;
let sequence = 0;

/** Starts the next `count` random bytes of the pool at the returned index, refilling it when needed. */
function takeRandom(count: number): number {
  if (poolIndex + count > POOL_BYTES) {
    getRandomValues(pool);
    poolIndex = 0;
  }
  const start = poolIndex;
  poolIndex += count;
  return start;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** The millisecond whose timestamp text is in {@link timeText}. */
let timeTextMs = -1;
/** `tttttttt-tttt-`: the 48-bit timestamp as the id's first two groups, shared by every id of one ms. */
let timeText = '';

/**
 * Returns a new UUIDv7. Ids made by one process are strictly increasing: within one millisecond
 * the 12-bit `rand_a` field is a counter (RFC 9562 method 1), and the clock is never allowed to
 * step backwards.
 *
 * The text is built straight from the timestamp, counter and pool bytes (no 16-byte array), and
 * the timestamp part is formatted once per millisecond: a busy publisher makes many ids per ms.
 */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    sequence = pool[takeRandom(1)]! & 0x3f; // Start low so a burst has room to count up.
  } else {
    ms = lastMs;
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1;
      ms = lastMs;
      sequence = 0;
    }
  }
  if (ms !== timeTextMs) {
    timeTextMs = ms;
    // 48-bit big-endian millisecond timestamp: 12 hex digits, split 8-4.
    const hex = ms.toString(16).padStart(12, '0');
    timeText = `${hex.slice(0, 8)}-${hex.slice(8)}-`;
  }
  const r = takeRandom(8);
  // Version 7 with the 12-bit counter, then variant 10 with 62 random bits.
  return (
    timeText +
    HEX[0x70 | (sequence >>> 8)]! +
    HEX[sequence & 0xff]! +
    '-' +
    HEX[0x80 | (pool[r]! & 0x3f)]! +
    HEX[pool[r + 1]!]! +
    '-' +
    HEX[pool[r + 2]!]! +
    HEX[pool[r + 3]!]! +
    HEX[pool[r + 4]!]! +
    HEX[pool[r + 5]!]! +
    HEX[pool[r + 6]!]! +
    HEX[pool[r + 7]!]!
  );
}
