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

/** ASCII codes of the 16 hex digits. */
const HEX_DIGITS = new Uint8Array(Buffer.from('0123456789abcdef', 'latin1'));
/**
 * The id being made, as 36 ASCII bytes (the dashes stay in place), decoded into one flat string at
 * the end: building it by 14 concatenations made a tree of strings that the log's header encoder
 * then read character by character through (measured: id plus four reads of its text 0.38–0.48
 * against 0.24–0.28 µs).
 */
const text = Buffer.alloc(36, '-'.charCodeAt(0));

/** The millisecond whose timestamp is in the first 13 bytes of {@link text}. */
let timeTextMs = -1;

/** Writes `byte` as two hex digits at `at` of {@link text}. */
function putHex(at: number, byte: number): void {
  text[at] = HEX_DIGITS[byte >>> 4]!;
  text[at + 1] = HEX_DIGITS[byte & 0xf]!;
}

/**
 * Returns a new UUIDv7. Ids made by one process are strictly increasing: within one millisecond
 * the 12-bit `rand_a` field is a counter (RFC 9562 method 1), and the clock is never allowed to
 * step backwards.
 *
 * The text is written straight from the timestamp, counter and pool bytes (no 16-byte array), and
 * the timestamp part is formatted once per millisecond: a busy publisher makes many ids per ms.
 */
export function uuidv7(): string {
  return uuidv7At(Date.now());
}

/**
 * {@link uuidv7} with the clock already read (`nowMs`, `Date.now()`): the bus's publish reads the
 * clock once for the id and the event's time (a read cost about 50 ns here, three per publish
 * before). Same guarantees: ids of one process strictly increase whatever `nowMs` says.
 */
export function uuidv7At(nowMs: number): string {
  let ms = nowMs;
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
    // 48-bit big-endian millisecond timestamp: 12 hex digits, split 8-4 (`tttttttt-tttt-`).
    const hex = ms.toString(16).padStart(12, '0');
    text.write(hex.slice(0, 8), 0, 'latin1');
    text.write(hex.slice(8), 9, 'latin1');
  }
  const r = takeRandom(8);
  // Version 7 with the 12-bit counter, then variant 10 with 62 random bits.
  putHex(14, 0x70 | (sequence >>> 8));
  putHex(16, sequence & 0xff);
  putHex(19, 0x80 | (pool[r]! & 0x3f));
  putHex(21, pool[r + 1]!);
  for (let index = 2; index < 8; index++) putHex(20 + 2 * index, pool[r + index]!);
  return text.toString('latin1', 0, 36);
}
