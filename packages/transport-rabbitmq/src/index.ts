/**
 * `@herald/transport-rabbitmq`: the Herald Transport on RabbitMQ. See the README for the mapping
 * diagram, guarantees, limits and a runnable example.
 */
export { CE_AMQP_PREFIX } from './headers.ts';
export {
  DEFAULT_URL,
  MESSAGE_BYTES_MAX,
  type QueueType,
  type RabbitMqTransportOptions,
  SHARDS_MAX,
  STREAM_BYTES_MAX,
  type UnroutableAction,
} from './options.ts';
export {
  deleteTopology,
  type RabbitMqTransport,
  type RabbitMqTransportStats,
  rabbitMqTransport,
  shardForKey,
  type TopologyNames,
  UNTYPED_ROUTING_KEY,
} from './rabbitmq-transport.ts';
export { RETRY_BUCKETS_MS } from './topology.ts';
