/**
 * `@herald/transport-redis`: the Herald Transport on Redis Streams. See the README for the mapping,
 * guarantees, limits and a runnable example.
 */
export { DEFAULT_URL, MESSAGE_BYTES_MAX, PARTITIONS_MAX, type RedisTransportOptions } from './options.ts';
export {
  partitionOfKey,
  type RedisTransport,
  type RedisTransportStats,
  redisTransport,
} from './redis-transport.ts';
