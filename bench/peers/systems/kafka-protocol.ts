/**
 * A Kafka-protocol broker driven by the raw `@platformatic/kafka` client (acks=all): `herald serve`
 * and Apache Kafka get exactly the same client code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { waitForLeaders } from '../../_servers.ts';
import { partitionOf, readStamp, type System, type SystemRow, stampedBody } from '../system.ts';

const MEBIBYTE = 1024 * 1024;

/** The installed `@platformatic/kafka` version, for the report. */
export function platformaticKafkaVersion(): string {
  const file = path.join(import.meta.dirname, '../../../node_modules/@platformatic/kafka/package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** A system on the Kafka-protocol broker at `bootstrapBrokers`, reported as `row`. */
export async function kafkaProtocolSystem(bootstrapBrokers: string[], row: SystemRow): Promise<System> {
  const kafka = await import('@platformatic/kafka');
  const producer = new kafka.Producer({ clientId: 'herald-peers', bootstrapBrokers, acks: -1 });
  const admin = new kafka.Admin({ clientId: 'herald-peers-admin', bootstrapBrokers });
  // As for the consumers below: a dropped connection fails the request that used it, not the run.
  producer.on('error', () => {});
  admin.on('error', () => {});
  return {
    ...row,
    close: async () => {
      await producer.close();
      await admin.close();
    },
    topic: async (spec) => {
      await admin.createTopics({ topics: [spec.name], partitions: spec.partitions, replicas: 1 });
      await waitForLeaders(admin, spec.name, spec.partitions);
      return {
        publish: async (index, stampMs) => {
          await producer.send({
            messages: [
              {
                topic: spec.name,
                key: Buffer.from(`k-${index}`),
                value: stampedBody(spec.payloadBytes, stampMs),
                partition: partitionOf(index, spec.partitions),
              },
            ],
          });
        },
        consume: async (consumersPerGroup, onMessage) => {
          const consumers: { close(): Promise<void> }[] = [];
          for (const [group, name] of spec.groups.entries()) {
            for (let index = 0; index < consumersPerGroup; index++) {
              const consumer = new kafka.Consumer({
                groupId: `${spec.name}-${name}`,
                clientId: `herald-peers-${name}-${index}`,
                bootstrapBrokers,
                maxWaitTime: 200,
                sessionTimeout: 10_000,
                heartbeatInterval: 1000,
              });
              // A client emits 'error' when a connection drops (a broker stopping at the end of its
              // rows, a stall of the machine): without a listener that would end the whole run. The
              // row still shows it: messages that do not arrive fail the row at its deadline.
              consumer.on('error', () => {});
              const stream = await consumer.consume({
                topics: [spec.name],
                mode: kafka.MessagesStreamModes.EARLIEST,
                autocommit: 100,
                maxBytes: 8 * MEBIBYTE,
              });
              stream.on('data', (message: { value: Buffer }) => onMessage(group, readStamp(message.value)));
              stream.on('error', () => {});
              consumers.push({
                close: async () => {
                  await stream.close();
                  await consumer.close(true);
                },
              });
            }
          }
          return {
            close: async () => {
              for (const consumer of consumers) await consumer.close().catch(() => {});
            },
          };
        },
        remove: async () => {
          await admin.deleteTopics({ topics: [spec.name] }).catch(() => {});
        },
      };
    },
  };
}
