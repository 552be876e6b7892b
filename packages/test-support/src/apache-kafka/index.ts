/**
 * Real Apache Kafka for tests (`@herald/test-support/apache-kafka`): one KRaft broker behind a
 * proxy whose connections can be cut, or a three-node cluster whose nodes can be killed -9, from
 * the jars `npm run setup` fetched into `HERALD_KAFKA_DIR` (default `~/.cache/herald/kafka`). A
 * subpath of its own, so tests that do not start Kafka do not load its client.
 *
 * @module
 */
export { type ApacheKafka, type ApacheKafkaOptions, KAFKA_DIR, startApacheKafka } from './broker.ts';
export { type KafkaCluster, type KafkaClusterOptions, startKafkaCluster } from './cluster.ts';
