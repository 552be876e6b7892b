/**
 * Kafka's default partitioner, re-exported from `@herald/bus` where it lives so the broker and the
 * network transports (RabbitMQ's shard choice) compute the same value without depending on each
 * other. See `packages/bus/src/partitioner.ts`.
 */
export { murmur2, partitionForKey } from '@herald/bus/internal';
