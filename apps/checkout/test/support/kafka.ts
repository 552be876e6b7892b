/**
 * The checkout's services on a Kafka-protocol broker (`HERALD_TRANSPORT=kafka`), shared by the
 * tests on `herald serve` and on a three-node Apache Kafka cluster.
 */
import { kafkaTransport } from '@herald/transport-kafka';
import { Admin } from '@platformatic/kafka';
import { deadLettersOnTopics, type ServiceOptions } from './services.ts';

/** The services on the Kafka brokers at `brokers`. */
export function onKafka(brokers: readonly string[]): ServiceOptions {
  return {
    transport: 'kafka',
    env: {
      HERALD_KAFKA_BROKERS: brokers.join(','),
      // The smallest session timeout herald serve accepts: a killed member's partitions move in 6 s.
      HERALD_KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...(process.env.HERALD_TEST_DEBUG ? { HERALD_KAFKA_DEBUG: '1' } : {}),
    },
    debug: true,
  };
}

/** Dead letters of every topic of the run on `brokers`, read through `bus.deadLetters`. */
export async function countDeadLetters(brokers: readonly string[]): Promise<number> {
  const admin = new Admin({ clientId: 'checkout-test', bootstrapBrokers: [...brokers] });
  // Neither the dead-letter topics themselves nor Kafka's internal ones (__consumer_offsets).
  const topics = (await admin.listTopics()).filter(
    (topic) => !topic.endsWith('.dlq') && !topic.startsWith('__'),
  );
  await admin.close();
  return deadLettersOnTopics(await kafkaTransport({ brokers: [...brokers] }), topics);
}
