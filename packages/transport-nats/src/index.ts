/**
 * `@herald/transport-nats`: the Herald Transport on NATS JetStream. See the README for the
 * mapping, guarantees, limits and a runnable example.
 */
export { CE_NATS_PREFIX, KEY_HEADER } from './headers.ts';
export {
  type NatsTransport,
  type NatsTransportStats,
  natsTransport,
  partitionOfKey,
} from './nats-transport.ts';
export {
  DEFAULT_SERVER,
  MESSAGE_BYTES_DEFAULT,
  type NatsTransportOptions,
  natsOptionsFromEnv,
  PARTITIONS_MAX,
} from './options.ts';
