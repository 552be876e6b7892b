/**
 * `@herald/transport-kafka`: the Herald Transport on any Kafka-protocol broker (Apache Kafka,
 * Redpanda, `herald serve`), built on `@platformatic/kafka`.
 *
 * @example
 * import { createBus } from '@herald/bus';
 * import { kafkaTransport } from '@herald/transport-kafka';
 * const bus = createBus({ transport: await kafkaTransport({ brokers: ['127.0.0.1:9092'] }) });
 */
export { type KafkaTransport, kafkaTransport } from './kafka-transport.ts';
export { type KafkaTransportOptions, kafkaOptionsFromEnv, type ResolvedOptions } from './options.ts';
