/**
 * Kafka's default partitioner for keyed records: murmur2 over the key bytes, made non-negative
 * with `& 0x7fffffff`, modulo the partition count. The Java client (`Utils.murmur2`,
 * `BuiltInPartitioner.partitionForKey`) and librdkafka's `murmur2` partitioner compute the same
 * value, so a key lands in the same partition whichever client produced it.
 *
 * Shared by `@herald/broker` (partitions) and `@herald/transport-rabbitmq` (shard queues), through
 * `@herald/bus/internal`, so a key picks the same number everywhere.
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

/** The partition Kafka's clients choose for `key` (UTF-8 string or raw bytes) among `partitions`. */
export function partitionForKey(key: string | Uint8Array, partitions: number): number {
  const bytes = typeof key === 'string' ? encoder.encode(key) : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}
