/** `herald-rabbitmq`: Herald-on-RabbitMQ, `rabbitMqTransport` as shipped (quorum shard queues, one per partition). */
import { rabbitMqTransport } from '@herald/transport-rabbitmq';
import { connect as amqpConnect } from 'amqplib';
import type { SystemEntry } from '../system.ts';
import { RABBITMQ_URL, rabbitVersion } from './rabbitmq-server.ts';
import { transportTopic } from './transport-topic.ts';

/** The Herald-on-RabbitMQ row. */
export const heraldRabbitMq: SystemEntry = {
  id: 'herald-rabbitmq',
  label: 'Herald-on-RabbitMQ',
  open: async (context) => {
    await context.peer('rabbitmq');
    // Fails fast (and the row is skipped) when the broker refuses us.
    const probe = await amqpConnect(RABBITMQ_URL);
    context.version('rabbitmq', rabbitVersion(probe));
    await probe.close();
    return {
      id: 'herald-rabbitmq',
      label: 'Herald-on-RabbitMQ (transport)',
      durability: 'fsync',
      durabilityNote: 'rabbitMqTransport: quorum shard queues, publisher confirms (1 node)',
      rawPeer: 'rabbitmq-quorum',
      close: async () => {},
      topic: async (spec) => {
        const transport = await rabbitMqTransport({
          url: RABBITMQ_URL,
          exchangePrefix: `herald-peers.${context.runId}.`,
          shards: spec.partitions,
          connectionName: 'herald-peers-bench',
        });
        // Declares each group's queues so that messages published with no consumer are kept.
        for (const group of spec.groups) {
          await (
            await transport.subscribe({ topic: spec.name, group, inFlightMax: 1 }, async () => {})
          ).close();
        }
        const topic = transportTopic(transport, spec);
        return {
          ...topic,
          remove: async () => {
            await transport.deleteTopology();
            await transport.close();
          },
        };
      },
    };
  },
};
