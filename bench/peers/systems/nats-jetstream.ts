/** `nats-jetstream`: nats.js v2, a JetStream stream with file storage, 1 replica, explicit acks, durable pull consumers. */
import { PEER_PORTS } from '../../_servers.ts';
import { CONSUMER_WINDOW, partitionOf, readStamp, type SystemEntry, stampedBody } from '../system.ts';

const NATS_URL = `127.0.0.1:${PEER_PORTS.nats}`;
/** Longest wait for the connection. */
const CONNECT_TIMEOUT_MS = 3000;
/** A stream's size bound: a full run writes far less. */
const STREAM_BYTES_MAX = 2 * 1024 * 1024 * 1024;
/** Unacknowledged messages a durable consumer may have out (the server's bound, above every window). */
const ACK_PENDING_MAX = 20_000;

/** The NATS JetStream row. */
export const natsJetStream: SystemEntry = {
  id: 'nats-jetstream',
  label: 'NATS JetStream',
  open: async (context) => {
    await context.peer('nats');
    const { AckPolicy, connect, DeliverPolicy, StorageType } = await import('nats');
    const connection = await connect({ servers: NATS_URL, timeout: CONNECT_TIMEOUT_MS });
    const manager = await connection.jetstreamManager();
    const jetstream = connection.jetstream();
    const version = connection.info?.version ?? 'unknown';
    context.version('nats-server', version);
    context.note(
      `NATS JetStream ${version} acknowledges a publish once the message is written to its file store, before fsync. ` +
        '"sync always" (`jetstream { sync_interval: always }`) is a server-wide setting added in nats-server 2.10; ' +
        `this server is ${version}, started with fixed flags (-js, no config file), so only the default was measured.`,
    );
    return {
      id: 'nats-jetstream',
      label: 'NATS JetStream, file, R1 (nats.js)',
      durability: 'page cache',
      durabilityNote: `file storage, 1 replica: acks once written to the OS, before fsync (server ${version}'s default; sync_interval is fixed server config)`,
      close: () => connection.close(),
      topic: async (spec) => {
        const stream = `herald_peers_${context.runId}_${spec.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
        await manager.streams.add({
          name: stream,
          subjects: [`${stream}.>`],
          storage: StorageType.File,
          num_replicas: 1,
          max_bytes: STREAM_BYTES_MAX,
        });
        for (const group of spec.groups) {
          await manager.consumers.add(stream, {
            durable_name: group,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            max_ack_pending: ACK_PENDING_MAX,
          });
        }
        return {
          publish: async (index, stampMs) => {
            await jetstream.publish(
              `${stream}.p${partitionOf(index, spec.partitions)}`,
              stampedBody(spec.payloadBytes, stampMs),
            );
          },
          consume: async (consumersPerGroup, onMessage) => {
            const iterators: { stop(): void }[] = [];
            const loops: Promise<void>[] = [];
            for (const [group, name] of spec.groups.entries()) {
              for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
                const handle = await jetstream.consumers.get(stream, name);
                const messages = await handle.consume({ max_messages: CONSUMER_WINDOW });
                iterators.push(messages);
                loops.push(
                  (async () => {
                    for await (const message of messages) {
                      onMessage(group, readStamp(message.data));
                      message.ack();
                    }
                  })().catch(() => {}),
                );
              }
            }
            return {
              close: async () => {
                for (const iterator of iterators) iterator.stop();
                await Promise.all(loops);
              },
            };
          },
          remove: async () => {
            await manager.streams.delete(stream);
          },
        };
      },
    };
  },
};
