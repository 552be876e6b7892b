/** `redis-streams`: ioredis, `XADD` / `XREADGROUP` + `XACK`, one stream key per partition. */
import { PEER_PORTS } from '../../_servers.ts';
import {
  CONSUMER_WINDOW,
  partitionOf,
  partitionsOf,
  readStamp,
  type SystemEntry,
  stampedBody,
} from '../system.ts';

/** Longest block of one `XREADGROUP`: how soon a consumer notices it was closed. */
const READ_BLOCK_MS = 100;

/** The Redis Streams row: memory-only or page cache, as the server's persistence settings say. */
export const redisStreams: SystemEntry = {
  id: 'redis-streams',
  label: 'Redis Streams',
  open: async (context) => {
    await context.peer('redis');
    const { Redis } = await import('ioredis');
    const options = {
      host: '127.0.0.1',
      port: PEER_PORTS.redis,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    };
    const client = new Redis(options);
    await client.connect();
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const appendonly = ((await client.config('GET', 'appendonly')) as string[])[1];
    const save = ((await client.config('GET', 'save')) as string[])[1];
    const persistence = `appendonly ${appendonly}, save "${save}"`;
    const memoryOnly = appendonly === 'no';
    context.version('redis-server', version);
    context.note(
      `Redis ${version} runs with ${persistence}: its rows are memory-only; a crash loses everything acknowledged.`,
    );
    return {
      id: 'redis-streams',
      label: 'Redis Streams (ioredis)',
      durability: memoryOnly ? 'memory' : 'page cache',
      durabilityNote: memoryOnly
        ? `XADD reply = in memory only (${persistence}): nothing reaches disk`
        : `XADD reply after the AOF write (${persistence}); fsync per appendfsync`,
      close: async () => {
        client.disconnect();
      },
      topic: async (spec) => {
        const keys = Array.from(
          { length: spec.partitions },
          (_, p) => `herald-peers:${context.runId}:${spec.name}:p${p}`,
        );
        for (const key of keys) {
          for (const group of spec.groups) await client.xgroup('CREATE', key, group, '0', 'MKSTREAM');
        }
        return {
          publish: async (index, stampMs) => {
            await client.xadd(
              keys[partitionOf(index, spec.partitions)]!,
              '*',
              'd',
              stampedBody(spec.payloadBytes, stampMs),
            );
          },
          consume: async (consumersPerGroup, onMessage) => {
            let running = true;
            const connections: InstanceType<typeof Redis>[] = [];
            const loops: Promise<void>[] = [];
            for (const [group, name] of spec.groups.entries()) {
              for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
                const connection = new Redis(options);
                await connection.connect();
                connections.push(connection);
                const mine = partitionsOf(consumer, consumersPerGroup, spec.partitions).map((p) => keys[p]!);
                loops.push(
                  (async () => {
                    // Bounded by `running`: each read blocks at most READ_BLOCK_MS.
                    while (running) {
                      const reply = (await connection.callBuffer(
                        'XREADGROUP',
                        'GROUP',
                        name,
                        `c${consumer}`,
                        'COUNT',
                        CONSUMER_WINDOW,
                        'BLOCK',
                        READ_BLOCK_MS,
                        'STREAMS',
                        ...mine,
                        ...mine.map(() => '>'),
                      )) as [Buffer, [Buffer, Buffer[]][]][] | null;
                      if (reply === null) continue;
                      for (const [key, entries] of reply) {
                        const ids: Buffer[] = [];
                        for (const [id, fields] of entries) {
                          onMessage(group, readStamp(fields[1]!));
                          ids.push(id);
                        }
                        if (ids.length > 0) await connection.xack(key, name, ...ids);
                      }
                    }
                  })().catch(() => {}),
                );
              }
            }
            return {
              close: async () => {
                running = false;
                await Promise.all(loops);
                for (const connection of connections) connection.disconnect();
              },
            };
          },
          remove: async () => {
            await client.del(...keys);
          },
        };
      },
    };
  },
};
