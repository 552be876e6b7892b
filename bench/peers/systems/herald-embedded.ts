/**
 * Herald embedded (`embeddedTransport`, fsync 'always'): the baseline of every ratio, and the same
 * transport publishing {@link BATCH} messages per call (the caller-side batching path).
 */
import { embeddedTransport } from '@herald/broker';
import { type SystemEntry, stampedBody } from '../system.ts';
import { transportTopic } from './transport-topic.ts';

/** Messages per `publish` call in the batched row. */
export const BATCH = 100;

/** `herald-embedded`: one message per publish. */
export const heraldEmbedded: SystemEntry = {
  id: 'herald-embedded',
  label: 'Herald embedded (transport)',
  open: async (context) => {
    const transport = await embeddedTransport({ dir: context.directory('embedded') });
    return {
      id: 'herald-embedded',
      label: 'Herald embedded (transport)',
      durability: 'fsync',
      durabilityNote: "fsync 'always': fdatasync before publish resolves",
      close: () => transport.close(),
      topic: async (spec) => {
        await transport.broker.createTopic(spec.name, { partitions: spec.partitions });
        return transportTopic(transport, spec);
      },
    };
  },
};

/** `herald-embedded-batch`: {@link BATCH} messages per publish, produce-only. */
export const heraldEmbeddedBatch: SystemEntry = {
  id: 'herald-embedded-batch',
  label: 'Herald embedded, batched',
  open: async (context) => {
    const transport = await embeddedTransport({ dir: context.directory('embedded-batch') });
    return {
      id: 'herald-embedded-batch',
      label: `Herald embedded, ${BATCH} per publish (transport)`,
      durability: 'fsync',
      durabilityNote: `fsync 'always'; ${BATCH} messages per publish call, one ack for all`,
      messagesPerPublish: BATCH,
      scenarios: ['produce'],
      close: () => transport.close(),
      topic: async (spec) => {
        await transport.broker.createTopic(spec.name, { partitions: spec.partitions });
        const plain = transportTopic(transport, spec);
        return {
          ...plain,
          publish: (index, stampMs) =>
            transport.publish(
              spec.name,
              Array.from({ length: BATCH }, (_, offset) => ({
                key: `k-${index * BATCH + offset}`,
                headers: {},
                body: stampedBody(spec.payloadBytes, stampMs),
              })),
            ),
        };
      },
    };
  },
};
