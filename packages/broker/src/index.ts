/**
 * `@herald/broker`: the broker core over `@herald/log` (topics, Kafka's partitioner, durable
 * consumer groups, replay) and `embeddedTransport`, Herald's default durable in-process transport.
 * See README.md for a runnable example, the on-disk layout, guarantees and limits.
 */
export { Broker } from './broker.ts';
export { type BrokerMetricsOptions, METRIC_SERIES_MAX, registerBrokerMetrics } from './broker-metrics.ts';
export type {
  BrokerOptions,
  GroupDescription,
  GroupListing,
  PartitionDescription,
  PartitionStorage,
  ResetTarget,
  TopicDescription,
} from './broker-types.ts';
export { COMMIT_METADATA_BYTES_MAX } from './commit-input.ts';
export {
  type EmbeddedTransport,
  type EmbeddedTransportOptions,
  embeddedTransport,
} from './embedded-transport.ts';
export {
  BROKER_ERROR_REASONS,
  BrokerArgumentError,
  BrokerCorruptError,
  BrokerError,
  type BrokerErrorReason,
  BrokerStorageError,
  DirectoryLockedError,
  GroupActiveError,
  TopicExistsError,
  TopicInUseError,
  TopicNotFoundError,
} from './errors.ts';
export {
  METRICS_CONNECTIONS_MAX,
  METRICS_REQUEST_TIMEOUT_MS,
  type MetricsServer,
  type MetricsServerOptions,
  startMetricsServer,
} from './metrics-server.ts';
export { openBroker } from './open-broker.ts';
export type { CommittedOffset } from './position-journal.ts';
export { PARTITIONS_MAX } from './topic-catalogue.ts';
export type { TopicConfig } from './topic-config.ts';
