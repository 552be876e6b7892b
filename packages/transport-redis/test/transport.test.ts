/**
 * The Redis transport beyond the conformance suite: option checks, partition ownership (a member
 * joining and leaving rebalances the group; a member killed -9 has its pending entries taken over
 * after the visibility timeout) and the partition-count check.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigurationError, type ReceivedMessage } from '@herald/bus';
import { withDeadline } from '@herald/bus/testing';
import {
  assertOrderedPerKey,
  Collector,
  eventually,
  idOf,
  makeMessages,
  publishAll,
} from '@herald/conformance';
import { partitionOfKey, type RedisTransport, redisTransport } from '@herald/transport-redis';
import { deleteKeys, REDIS_URL, requireRedis, withRedis } from './support.ts';

await requireRedis();

const runPrefix = `herald-test:${randomUUID().slice(0, 8)}:`;
const open: RedisTransport[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const transport of open.splice(0)) await withDeadline(transport.close(), 20_000, 'transport.close()');
  await deleteKeys(runPrefix);
});

async function openTransport(
  name: string,
  options: Parameters<typeof redisTransport>[0] = {},
): Promise<RedisTransport> {
  const transport = await redisTransport({ url: REDIS_URL, keyPrefix: `${runPrefix}${name}:`, ...options });
  open.push(transport);
  return transport;
}

describe('redis transport', { timeout: 120_000 }, () => {
  it('options - bad options are ConfigurationErrors naming the option and its bounds', async () => {
    for (const [options, pattern] of [
      [{ url: 'http://localhost' }, /url must start with redis:\/\//],
      [{ partitions: 0 }, /partitions must be an integer from 1 to 256/],
      [{ keyPrefix: 'a b' }, /keyPrefix/],
      [{ visibilityTimeoutMs: 3000, heartbeatMs: 2000 }, /heartbeatMs must be an integer from 10 to 1000/],
      [{ streamLengthMax: 10 }, /streamLengthMax/],
    ] as const) {
      await assert.rejects(redisTransport(options), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, pattern);
        return true;
      });
    }
  });

  it('partitions - a topic used with another partition count is refused, saying which count it has', async () => {
    const four = await openTransport('count');
    await four.publish('orders', makeMessages(1, 'p'));
    const two = await openTransport('count', { partitions: 2 });
    await assert.rejects(two.publish('orders', makeMessages(1, 'p')), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /has 4 partitions in Redis .* use partitions: 4/);
      return true;
    });
  });

  it('rebalance - a member joining takes over its share, one leaving hands it back; per-key order holds throughout', async () => {
    const transport = await openTransport('rebalance', { heartbeatMs: 50 });
    // Both members log what they handle in one list, in the order it happened.
    const handled: ReceivedMessage[] = [];
    const log = (message: ReceivedMessage): 'ack' => {
      handled.push(message);
      return 'ack';
    };
    const first = new Collector(log);
    const second = new Collector(log);
    await transport.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 8 }, first.handler);
    await publishAll(
      transport,
      'jobs',
      makeMessages(100, 'a', (index) => `k${index % 10}`, 0),
    );
    const secondSubscription = await transport.subscribe(
      { topic: 'jobs', group: 'workers', inFlightMax: 8 },
      second.handler,
    );
    const middle = makeMessages(100, 'b', (index) => `k${index % 10}`, 100);
    await publishAll(transport, 'jobs', middle);
    await eventually(
      () => second.acked.length > 0,
      () => 'the joining member to receive messages',
    );
    await secondSubscription.close();
    const last = makeMessages(100, 'c', (index) => `k${index % 10}`, 200);
    await publishAll(transport, 'jobs', last);
    const all = [...makeMessages(100, 'a'), ...middle, ...last].map(idOf);
    await eventually(
      () => new Set([...first.acked, ...second.acked]).size === all.length,
      () => `all ${all.length} messages acked (have ${new Set([...first.acked, ...second.acked]).size})`,
    );
    // A key moved between members only at a handover, after its previous messages were acked. A
    // copy delivered again follows later messages of its key, so each id's first handling counts.
    const firsts = new Map<string, ReceivedMessage>();
    for (const message of handled) if (!firsts.has(idOf(message))) firsts.set(idOf(message), message);
    assertOrderedPerKey([...firsts.values()], 'across the rebalance');
  });

  it('sweep - an entry left pending under a consumer that does not own its partition is claimed after the visibility timeout', async () => {
    const transport = await openTransport('sweep', { visibilityTimeoutMs: 1000, heartbeatMs: 50 });
    let release: (() => Promise<void>) | undefined;
    const collector = new Collector((message) => {
      if (idOf(message) !== 'hold-0') return 'ack';
      release = () => message.ack();
      return 'hold';
    });
    await transport.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 1 }, collector.handler);
    // The owner holds a message of partition 0, so its window there is full and it stops reading it.
    const key = Array.from({ length: 100 }, (_, index) => `key-${index}`).find(
      (each) => partitionOfKey(each, 4) === 0,
    )!;
    await transport.publish(
      'jobs',
      makeMessages(1, 'hold', () => key),
    );
    await eventually(
      () => release !== undefined,
      () => 'hold-0 delivered',
    );
    // A stray: a consumer that owns nothing reads an entry into its pending list, as a member whose
    // lease expired before its read returned would. The owner never reads it with its own reads.
    const stream = transport.streams('jobs')[0]!;
    const read = await withRedis(async (redis) => {
      await redis.call(
        'XADD',
        stream,
        '*',
        'h',
        JSON.stringify({ 'x-conformance-id': 'stray-0' }),
        'b',
        '{}',
      );
      return redis.call('XREADGROUP', 'GROUP', 'workers', 'zombie', 'COUNT', 10, 'STREAMS', stream, '>');
    });
    assert.ok(read !== null, 'the zombie read nothing: the owner read partition 0 after all');
    await release!();
    await collector.waitAcked(['stray-0'], 'the owner, after the sweep');
  });

  it('takeover - a member killed -9 with messages pending loses them to the group after the visibility timeout', async () => {
    const prefix = `${runPrefix}takeover:`;
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'crash-member.ts'), REDIS_URL, prefix, '2000'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    const got = new Set<string>();
    let ready = false;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (line === 'ready') ready = true;
        else if (line.startsWith('got ')) got.add(line.slice(4));
      }
    });
    await eventually(
      () => ready,
      () => 'the child member to subscribe',
    );
    const transport = await openTransport('takeover', { visibilityTimeoutMs: 2000, heartbeatMs: 100 });
    const messages = makeMessages(40, 't', (index) => `k${index % 8}`);
    // The child owns every partition until the survivor joins, and reads all 40 ahead; it holds the
    // first message of each of the 8 keys, the others wait behind them (per-key order).
    await publishAll(transport, 'jobs', messages);
    await eventually(
      () => got.size === 8,
      () => `the child to hold the first message of each key (has ${got.size})`,
    );
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const killedAtMs = performance.now();
    // The dead member's leases live on until the visibility timeout; then the survivor claims them.
    const survivor = new Collector();
    await transport.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 16 }, survivor.handler);
    await survivor.waitAcked(messages.map(idOf), 'the survivor after the takeover');
    const tookMs = performance.now() - killedAtMs;
    assert.ok(
      survivor.deliveries.every((delivery) => delivery.deliveryAttempt >= 2),
      'a claimed entry reported deliveryAttempt 1',
    );
    assertOrderedPerKey(survivor.deliveries, 'after the takeover');
    assert.ok(tookMs < 15_000, `takeover took ${tookMs.toFixed(0)} ms`);
  });
});
