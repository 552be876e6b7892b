/**
 * A Redis server of a test's own: `PrivateServer` of `@herald/test-support` running
 * `redis-server` on a free loopback port with its data in the server's directory, persisted by AOF
 * with `appendfsync always` (the only setting under which a confirmed write survives a crash of
 * the server). It can be killed -9 and started again on the same data and port.
 */
import path from 'node:path';
import { PrivateServer, type PrivateServerSpec } from '@herald/test-support';
import { Redis } from 'ioredis';

/** How long a started server may take to answer (it replays its AOF first). */
const START_TIMEOUT_MS = 20_000;

/** Whether the Redis at `port` answers PING (while it replays its AOF it accepts but answers LOADING). */
async function answersPing(port: number): Promise<boolean> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** redis-server with AOF and `appendfsync always` in its directory, logging to `server.log` there. */
export const REDIS_SERVER_SPEC: PrivateServerSpec = {
  name: 'redis-server',
  command: 'redis-server',
  args: ({ port, directory }) => [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    directory,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--logfile',
    path.join(directory, 'server.log'),
  ],
  url: ({ port }) => `redis://127.0.0.1:${port}`,
  install: 'run npm run setup (installs redis-server)',
  ready: ({ port }) => answersPing(port),
  startTimeoutMs: START_TIMEOUT_MS,
};

/** Starts a private redis-server; resolves once it answers PING. */
export function startRedisServer(): Promise<PrivateServer> {
  return PrivateServer.start(REDIS_SERVER_SPEC);
}
