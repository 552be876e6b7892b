/**
 * `@herald/broker`: the broker core over `@herald/log` (topics, Kafka's partitioner, durable
 * consumer groups, replay) and `embeddedTransport`, Herald's default durable in-process transport.
 * See README.md for a runnable example, the on-disk layout, guarantees and limits.
 */
export {
  Broker,
  type BrokerOptions,
  COMMIT_METADATA_BYTES_MAX,
  type CommittedOffset,
  type GroupDescription,
  type GroupListing,
  PARTITIONS_MAX,
  type PartitionDescription,
  type PartitionStorage,
  type ResetTarget,
  type TopicConfig,
  type TopicDescription,
} from './broker.ts';
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
export { openBroker } from './open-broker.ts';
