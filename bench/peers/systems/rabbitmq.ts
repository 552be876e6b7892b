/**
 * RabbitMQ through amqplib, a tuned client (Nagle off), publisher confirms, persistent messages:
 * a quorum queue, a classic durable queue, and a stream queue (AMQP 0-9-1, `x-stream-offset`).
 */
import { connect as amqpConnect, type Channel } from 'amqplib';
import {
  CONSUMER_WINDOW,
  type DurabilityClass,
  partitionOf,
  partitionsOf,
  readStamp,
  type SystemEntry,
  stampedBody,
} from '../system.ts';
import { RABBITMQ_URL, rabbitVersion } from './rabbitmq-server.ts';

const MEBIBYTE = 1024 * 1024;
/** A stream queue's size bound (`x-max-length-bytes`): a full run writes far less. */
const STREAM_BYTES_MAX = 2 * 1024 * MEBIBYTE;

type RabbitQueueKind = 'quorum' | 'classic' | 'stream';

const NOTES: Record<RabbitQueueKind, [DurabilityClass, string]> = {
  quorum: [
    'fsync',
    'quorum queue, persistent, publisher confirms (confirm after the Raft log is fsynced; 1 node)',
  ],
  classic: ['fsync', 'classic durable queue, persistent messages, publisher confirms (confirm once on disk)'],
  stream: [
    'page cache',
    'stream queue, publisher confirms (written to the segment file; streams do not fsync)',
  ],
};

function rabbitMqRaw(kind: RabbitQueueKind): SystemEntry {
  const id = `rabbitmq-${kind}`;
  return {
    id,
    label: `RabbitMQ ${kind}`,
    open: async (context) => {
      await context.peer('rabbitmq');
      // amqplib leaves Nagle's algorithm on by default; a tuned client turns it off.
      const connection = await amqpConnect(RABBITMQ_URL, { noDelay: true });
      context.version('rabbitmq', rabbitVersion(connection));
      const publishChannel = await connection.createConfirmChannel();
      return {
        id,
        label: `RabbitMQ ${kind}${kind === 'stream' ? '' : ' queue'} (amqplib)`,
        durability: NOTES[kind][0],
        durabilityNote: NOTES[kind][1],
        close: async () => {
          await connection.close();
        },
        topic: async (spec) => {
          const base = `herald-peers.${context.runId}.${kind}.${spec.name}`;
          const queues: string[] = [];
          const exchanges: string[] = [];
          /** Per partition: where to publish (exchange, routing key). */
          const targets: [string, string][] = [];
          /** Per group, per partition: the queue to consume. */
          const groupQueues: string[][] = spec.groups.map(() => []);
          for (let partition = 0; partition < spec.partitions; partition++) {
            if (kind === 'stream') {
              // A stream is read independently by each consumer: one stream per partition serves every group.
              const stream = `${base}.p${partition}`;
              await publishChannel.assertQueue(stream, {
                durable: true,
                arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': STREAM_BYTES_MAX },
              });
              queues.push(stream);
              targets.push(['', stream]);
              for (const list of groupQueues) list.push(stream);
              continue;
            }
            const exchange = `${base}.p${partition}`;
            await publishChannel.assertExchange(exchange, 'fanout', { durable: true });
            exchanges.push(exchange);
            targets.push([exchange, '']);
            for (const [group, name] of spec.groups.entries()) {
              const queue = `${base}.${name}.p${partition}`;
              await publishChannel.assertQueue(queue, {
                durable: true,
                ...(kind === 'quorum' ? { arguments: { 'x-queue-type': 'quorum' } } : {}),
              });
              await publishChannel.bindQueue(queue, exchange, '');
              queues.push(queue);
              groupQueues[group]!.push(queue);
            }
          }
          return {
            publish: (index, stampMs) =>
              new Promise<void>((resolve, reject) => {
                const [exchange, routingKey] = targets[partitionOf(index, spec.partitions)]!;
                publishChannel.publish(
                  exchange,
                  routingKey,
                  stampedBody(spec.payloadBytes, stampMs),
                  { persistent: true },
                  (error) => (error ? reject(error) : resolve()),
                );
              }),
            consume: async (consumersPerGroup, onMessage) => {
              const channels: Channel[] = [];
              for (const [group, list] of groupQueues.entries()) {
                for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
                  const channel = await connection.createChannel();
                  await channel.prefetch(CONSUMER_WINDOW, false);
                  channels.push(channel);
                  for (const partition of partitionsOf(consumer, consumersPerGroup, spec.partitions)) {
                    await channel.consume(
                      list[partition]!,
                      (message) => {
                        if (message === null) return;
                        onMessage(group, readStamp(message.content));
                        channel.ack(message);
                      },
                      kind === 'stream' ? { arguments: { 'x-stream-offset': 'first' } } : {},
                    );
                  }
                }
              }
              return {
                close: async () => {
                  for (const channel of channels) await channel.close().catch(() => {});
                },
              };
            },
            remove: async () => {
              for (const queue of queues) await publishChannel.deleteQueue(queue);
              for (const exchange of exchanges) await publishChannel.deleteExchange(exchange);
            },
          };
        },
      };
    },
  };
}

/** Quorum queue. */
export const rabbitMqQuorum: SystemEntry = rabbitMqRaw('quorum');
/** Classic durable queue. */
export const rabbitMqClassic: SystemEntry = rabbitMqRaw('classic');
/** Stream queue. */
export const rabbitMqStream: SystemEntry = rabbitMqRaw('stream');
