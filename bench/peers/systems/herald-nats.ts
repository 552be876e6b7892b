/**
 * `herald-nats`: Herald-on-NATS, `natsTransport` as shipped, beside the raw `nats-jetstream` row
 * on the same server: file storage and 1 replica like the raw row's stream, so both are "page
 * cache" class. What differs is Herald's own work: a durable consumer per group and partition
 * with KV-leased partitions, confirmed acks (`ackAck`), and the nats.js v3 client (the raw row
 * uses v2).
 */
import { natsTransport } from '@herald/transport-nats';
import { PEER_PORTS } from '../../_servers.ts';
import type { SystemEntry } from '../system.ts';
import { transportTopic } from './transport-topic.ts';

const NATS_URL = `nats://127.0.0.1:${PEER_PORTS.nats}`;
/** Longest wait for the connection (the raw row's bound too). */
const CONNECT_TIMEOUT_MS = 3000;

/** The Herald-on-NATS row. */
export const heraldNats: SystemEntry = {
  id: 'herald-nats',
  label: 'Herald-on-NATS',
  open: async (context) => {
    await context.peer('nats');
    // Fails fast (and the row is skipped) when the server refuses us or has no JetStream.
    const probe = await natsTransport({ servers: NATS_URL, connectTimeoutMs: CONNECT_TIMEOUT_MS });
    await probe.close();
    return {
      id: 'herald-nats',
      label: 'Herald-on-NATS (transport), file, R1',
      durability: 'page cache',
      durabilityNote:
        'natsTransport: file storage, 1 replica, as the raw row: acked once written to the OS, before fsync; ' +
        'per-partition durable consumers with KV leases, confirmed acks, nats.js v3 (raw row: one durable consumer per group, unconfirmed acks, nats.js v2)',
      rawPeer: 'nats-jetstream',
      close: async () => {},
      topic: async (spec) => {
        // A transport per topic: `partitions` is a transport option, and the prefix keeps this
        // topic's streams and lease bucket apart from every other run's.
        const transport = await natsTransport({
          servers: NATS_URL,
          prefix: `hp_${context.runId}_${spec.name}`,
          partitions: spec.partitions,
          replicas: 1,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          connectionName: 'herald-peers-bench',
        });
        const topic = transportTopic(transport, spec);
        return {
          ...topic,
          remove: async () => {
            await transport.close();
            // Reconnects for the deletion when closed.
            await transport.deleteStreams();
          },
        };
      },
    };
  },
};
