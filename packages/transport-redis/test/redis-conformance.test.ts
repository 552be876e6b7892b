import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import type { Transport } from '@herald/bus';
import { runConformance } from '@herald/conformance';
import { type RedisTransport, redisTransport } from '@herald/transport-redis';
import { deleteKeys, dropConnections, REDIS_URL, requireRedis } from './support.ts';

// No server: the file fails at once saying `run npm run setup`, not after every scenario's connect retries.
await requireRedis();

// One connection name for every transport of this file, so dropConnections hits only them.
const connectionName = `herald-conformance-${process.pid}`;
// One key prefix for the file's run: every key is deleted afterwards, and no other run sees them.
const runPrefix = `herald-test:${randomUUID().slice(0, 8)}:`;
const prefixOf = new WeakMap<Transport, string>();

after(async () => {
  await deleteKeys(runPrefix);
});

function open(keyPrefix: string): Promise<RedisTransport> {
  return redisTransport({ url: REDIS_URL, keyPrefix, connectionName, reconnectDelayMsMax: 500 });
}

runConformance({
  name: 'redis',
  async create() {
    const prefix = `${runPrefix}${randomUUID().slice(0, 8)}:`;
    const transport = await open(prefix);
    prefixOf.set(transport, prefix);
    return transport;
  },
  // Close the transport and open a new one on the same server and keys: pending entries and group
  // positions live in Redis. (The crash of the server itself is server-crash.test.ts.)
  async restart(transport) {
    const prefix = prefixOf.get(transport);
    if (prefix === undefined) throw new Error('restart of a transport this file did not create');
    await transport.close();
    const next = await open(prefix);
    prefixOf.set(next, prefix);
    return next;
  },
  async dropConnections() {
    // A drop that closed nothing would make the reconnect scenario pass without testing anything.
    const dropped = await dropConnections(connectionName);
    if (dropped === 0) throw new Error(`no Redis connection named ${connectionName} to drop`);
  },
});
