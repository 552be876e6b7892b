/**
 * The checkout as seven OS processes sharing one Redis (`HERALD_TRANSPORT=redis npm run service --
 * <name>` each), driven through the order API, with the inventory process killed -9 and started
 * again mid-run (its partitions and pending entries move on once its leases expire: the visibility
 * timeout, 10 s by default), checked with the same invariants as `npm start`. Needs the local Redis
 * (`npm run setup` starts it).
 */
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { serverPort } from '@herald/test-support';
import { redisTransport } from '@herald/transport-redis';
import { Redis } from 'ioredis';
import { runCheckoutScenario } from './support/scenario.ts';
import { deadLettersOnTopics, killStragglers } from './support/services.ts';

const URL = process.env.HERALD_REDIS_URL ?? `redis://127.0.0.1:${serverPort('redis')}`;
const PREFIX = `herald-test:checkout-${randomUUID().slice(0, 8)}:`;

// The scenario kills its processes itself; this also covers a test that timed out mid-run.
after(async () => {
  killStragglers();
  await withRedis(async (redis) => {
    const keys = await keysWithPrefix(redis, PREFIX);
    for (let start = 0; start < keys.length; start += 500) await redis.del(...keys.slice(start, start + 500));
  });
});

async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** Every key starting with `prefix` (this run's only), by SCAN. */
async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Dead letters of every topic this run used (the topics recorded under the run's prefix). */
async function countDeadLetters(): Promise<number> {
  const topicKeys = await withRedis((redis) => keysWithPrefix(redis, `${PREFIX}t:`));
  const topics = topicKeys
    .map((key) => key.slice(`${PREFIX}t:`.length))
    .filter((topic) => !topic.endsWith('.dlq'));
  return deadLettersOnTopics(await redisTransport({ url: URL, keyPrefix: PREFIX }), topics);
}

describe('checkout - services as separate processes on Redis Streams', { timeout: 600_000 }, () => {
  it('seven service processes share Redis; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 180_000,
  }, async (t) => {
    await runCheckoutScenario(t, {
      name: 'redis',
      services: { transport: 'redis', env: { HERALD_REDIS_URL: URL, HERALD_REDIS_PREFIX: PREFIX } },
      orders: 120,
      ratePerSecond: 40,
      seed: 7,
      deadLetters: async () => ({ count: countDeadLetters }),
    });
  });
});
