/**
 * `@herald/kafka-server`: a single-node Kafka-protocol server over Herald's embedded broker, so
 * unmodified Kafka clients (librdkafka/kcat, kafka-python, kafkajs, @platformatic/kafka) produce
 * and consume. See README.md for the example, the bounds and what is not implemented.
 */
export { registerPureJsCodecs } from './compression.ts';
export type { ResponseSize } from './context.ts';
export type { GroupCoordinatorOptions } from './group-coordinator.ts';
export {
  type KafkaServer,
  KafkaServerConfigError,
  type KafkaServerOptions,
  startKafkaServer,
} from './server.ts';
