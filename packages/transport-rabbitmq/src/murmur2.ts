/**
 * Kafka's murmur2 partitioner, so a key picks the same shard number here as the same key picks a
 * partition in `@herald/broker` and in Kafka clients (`(murmur2(bytes) & 0x7fffffff) % count`).
 * Kept local rather than importing `@herald/broker`, which would pull the whole log engine into a
 * network transport; `test/murmur2.test.ts` checks both agree.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const encoder = new TextEncoder();

/** Kafka's murmur2 of `bytes`, as the signed 32-bit integer the Java client returns. */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = (SEED ^ length) | 0;
  const whole = length - (length % 4);
  for (let index = 0; index < whole; index += 4) {
    let k =
      (bytes[index]! & 0xff) |
      ((bytes[index + 1]! & 0xff) << 8) |
      ((bytes[index + 2]! & 0xff) << 16) |
      ((bytes[index + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The tail falls through like the Java switch: 3 bytes left fold in byte 2, then 1, then 0.
  const rest = length % 4;
  if (rest === 3) h ^= (bytes[whole + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (bytes[whole + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= bytes[whole]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The shard (0…`shards`-1) of `key`: the partition Kafka's clients would choose. */
export function shardForKey(key: string, shards: number): number {
  return (murmur2(encoder.encode(key)) & 0x7fffffff) % shards;
}
