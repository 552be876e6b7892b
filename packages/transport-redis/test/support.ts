/** Test helpers: the server URL, a reachability check, dropping connections, key clean-up. */
import { connect as connectTcp } from 'node:net';
import { Redis } from 'ioredis';

/** The server the tests use (`npm run setup` starts it). */
export const REDIS_URL =
  process.env.HERALD_REDIS_URL ?? `redis://127.0.0.1:${process.env.HERALD_REDIS_PORT ?? 6379}`;

/**
 * Throws, naming the address and `npm run setup`, unless the port at `url` accepts a connection
 * within 2 s: tests then fail at once instead of waiting on a server that is not there.
 */
export async function requireRedis(url: string = REDIS_URL): Promise<void> {
  const { hostname, port } = new URL(url);
  const address = `${hostname}:${port || 6379}`;
  await new Promise<void>((resolve, reject) => {
    const socket = connectTcp({ host: hostname, port: Number(port || 6379) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`Redis is not reachable at ${address} (${reason}): run npm run setup`));
    };
    socket.setTimeout(2_000, () => fail('no answer within 2 s'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Runs `use` with a plain ioredis connection to `url`, closed afterwards. */
export async function withRedis<T>(use: (redis: Redis) => Promise<T>, url: string = REDIS_URL): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * Kills, server side, every connection named `connectionName` (`CLIENT KILL ID`), as a network
 * failure would; resolves with how many were killed. Only these: other test files share the server.
 */
export function dropConnections(connectionName: string, url: string = REDIS_URL): Promise<number> {
  return withRedis(async (redis) => {
    const list = (await redis.client('LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=${connectionName} `))
      .map((line) => /\bid=(\d+)/.exec(line)![1]!);
    for (const id of ids) await redis.client('KILL', 'ID', id);
    return ids.length;
  }, url);
}

/** Deletes every key starting with `prefix` (SCAN, so the server never blocks on a huge KEYS). */
export function deleteKeys(prefix: string, url: string = REDIS_URL): Promise<number> {
  return withRedis(async (redis) => {
    let cursor = '0';
    let deleted = 0;
    // SCAN visits every key once per full cycle; the cursor returns to 0 when it is done.
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  }, url);
}
