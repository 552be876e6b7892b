/**
 * Herald's Kafka transport (`kafkaTransport`: concurrent publishes share produce requests), the
 * row applications get with `HERALD_TRANSPORT=kafka`: against the run's `herald serve`, and
 * against its Apache Kafka (default flush policy). The raw-client rows on the same brokers send a
 * request per message; both side by side show which one bounds the figure.
 */
import { kafkaTransport } from '@herald/transport-kafka';
import type { System, SystemEntry, SystemRow } from '../system.ts';
import { apacheKafkaBootstrap } from './apache-kafka.ts';
import { heraldServeBootstrap } from './herald-serve.ts';
import { transportTopic } from './transport-topic.ts';

/** A transport per topic (it is created with the topic's partition count). */
function heraldKafkaSystem(bootstrap: string, row: SystemRow): System {
  return {
    ...row,
    close: async () => {},
    topic: async (spec) => {
      const transport = await kafkaTransport({
        brokers: [bootstrap],
        clientId: 'herald-peers-kafka',
        partitions: spec.partitions,
      });
      const topic = transportTopic(transport, spec);
      return { ...topic, remove: () => transport.close() };
    },
  };
}

/** Against `herald serve`. */
export const heraldKafka: SystemEntry = {
  id: 'herald-kafka',
  label: 'Herald-on-Kafka (transport)',
  open: async (context) =>
    heraldKafkaSystem(await heraldServeBootstrap(context), {
      id: 'herald-kafka',
      label: 'Herald-on-Kafka (transport → herald serve)',
      durability: 'fsync',
      durabilityNote: "kafkaTransport: acks=all, idempotent producer; the server appends with fsync 'always'",
      rawPeer: 'herald-serve',
    }),
};

/** Against Apache Kafka with its default flush policy. */
export const heraldKafkaApache: SystemEntry = {
  id: 'herald-kafka-apache',
  label: 'Herald-on-Kafka (transport → Apache Kafka)',
  open: async (context) =>
    heraldKafkaSystem(await apacheKafkaBootstrap(context, false), {
      id: 'herald-kafka-apache',
      label: 'Herald-on-Kafka (transport → Apache Kafka)',
      durability: 'page cache',
      durabilityNote: 'kafkaTransport: acks=all, idempotent producer; Apache Kafka default flush policy',
      rawPeer: 'apache-kafka',
    }),
};
