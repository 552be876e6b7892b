/**
 * `herald-redis`: Herald-on-Redis, `redisTransport` as shipped, beside the raw `redis-streams` row
 * on the same server, so both have the class that server's persistence gives (memory-only on the
 * set-up's server). What differs is Herald's own work: every `XADD` trims (`MAXLEN ~`, the
 * transport's retention bound), entries carry headers and key fields, and each group's partitions
 * are leased to one member at a time (a heartbeat script every 250 ms).
 */
import { redisTransport } from '@herald/transport-redis';
import { PEER_PORTS } from '../../_servers.ts';
import type { SystemEntry } from '../system.ts';
import { transportTopic } from './transport-topic.ts';

const REDIS_URL = `redis://127.0.0.1:${PEER_PORTS.redis}`;
/** Keys `SCAN` returns per call while deleting a topic's keys. */
const SCAN_COUNT = 1000;

/** The Herald-on-Redis row. */
export const heraldRedis: SystemEntry = {
  id: 'herald-redis',
  label: 'Herald-on-Redis',
  open: async (context) => {
    await context.peer('redis');
    const { Redis } = await import('ioredis');
    // Reads the server's persistence settings (as the raw row does) and deletes the keys topics leave.
    const admin = new Redis({
      host: '127.0.0.1',
      port: PEER_PORTS.redis,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    await admin.connect();
    const appendonly = ((await admin.config('GET', 'appendonly')) as string[])[1];
    const appendfsync = ((await admin.config('GET', 'appendfsync')) as string[])[1];
    const memoryOnly = appendonly === 'no';
    return {
      id: 'herald-redis',
      label: 'Herald-on-Redis (transport)',
      durability: memoryOnly ? 'memory' : appendfsync === 'always' ? 'fsync' : 'page cache',
      durabilityNote:
        `redisTransport: publish resolves once Redis applied the XADD, as the raw row (${memoryOnly ? 'appendonly no: in memory only' : `appendonly ${appendonly}, appendfsync ${appendfsync}`}); ` +
        'XADD trims with MAXLEN ~ 1,000,000 and carries headers and key (the raw row: one field, no trim); partitions leased per group member',
      rawPeer: 'redis-streams',
      close: async () => {
        admin.disconnect();
      },
      topic: async (spec) => {
        // The transport never deletes its streams, so each topic gets a prefix of its own to delete.
        const keyPrefix = `herald-peers:${context.runId}:${spec.name}:`;
        const transport = await redisTransport({
          url: REDIS_URL,
          keyPrefix,
          partitions: spec.partitions,
          connectionName: 'herald-peers-bench',
        });
        const topic = transportTopic(transport, spec);
        return {
          ...topic,
          remove: async () => {
            await transport.close();
            let cursor = '0';
            // SCAN visits every key once per cycle; the cursor returns to 0 when done.
            do {
              const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', SCAN_COUNT);
              cursor = next;
              if (keys.length > 0) await admin.del(...keys);
            } while (cursor !== '0');
          },
        };
      },
    };
  },
};
