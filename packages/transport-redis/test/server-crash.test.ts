/**
 * A crash of the Redis server itself, on a server of this file's own (AOF, `appendfsync always`):
 * killed -9 while messages are being published and consumed, then started again on the same data.
 * No confirmed (publish-resolved) message may be lost, every one must reach the group, and the
 * transport must reconnect by itself. Also: `requireFsyncAlways` refuses a server without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigurationError, type TransportMessage } from '@herald/bus';
import { withDeadline } from '@herald/bus/testing';
import { assertOrderedPerKey, Collector, idOf, makeMessages } from '@herald/conformance';
import type { PrivateServer } from '@herald/test-support';
import { type RedisTransport, redisTransport } from '@herald/transport-redis';
import { startRedisServer } from './private-server.ts';
import { REDIS_URL, requireRedis } from './support.ts';

/** Confirmed messages before the kill, and after the restart. */
const BEFORE_KILL = 150;
const AFTER_RESTART = 100;
/** Attempts per message before the test gives up on it (each waits up to connectTimeoutMs). */
const PUBLISH_ATTEMPTS_MAX = 10;
/** How long all confirmed messages may take to be acked after the restart. */
const CONSUME_TIMEOUT_MS = 60_000;

async function publishUntilConfirmed(transport: RedisTransport, message: TransportMessage): Promise<number> {
  const errors: unknown[] = [];
  while (errors.length < PUBLISH_ATTEMPTS_MAX) {
    try {
      await transport.publish('jobs', [message]);
      return errors.length;
    } catch (error) {
      errors.push(error); // Rejected: it may or may not be stored; publishing again is allowed.
    }
  }
  assert.fail(`${idOf(message)} was never confirmed: ${String(errors.at(-1))}`);
}

describe('redis transport - server crash', { timeout: 240_000 }, () => {
  let server: PrivateServer;
  const open: RedisTransport[] = [];
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    for (const transport of open.splice(0))
      await withDeadline(transport.close(), 20_000, 'transport.close()');
    await server?.stop();
  });

  it('crash - a kill -9 of the Redis server (appendfsync always) mid-run loses no confirmed message; the transport reconnects', async (t) => {
    const options = {
      url: server.url,
      requireFsyncAlways: true,
      connectTimeoutMs: 30_000,
      reconnectDelayMsMax: 200,
    };
    const transport = await redisTransport(options);
    open.push(transport);
    const collector = new Collector();
    await transport.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 16 }, collector.handler);

    const confirmed: string[] = [];
    let rejected = 0;
    let sequence = 0;
    const publishSome = async (count: number, label: string, during?: () => void) => {
      for (let index = 0; index < count; index++, sequence++) {
        const [message] = makeMessages(1, `${label}${index}`, () => `k${sequence % 5}`, sequence);
        if (index === Math.floor(count / 3)) during?.();
        rejected += await publishUntilConfirmed(transport, message!);
        confirmed.push(idOf(message!));
      }
    };
    // The kill lands a third of the way into the first batch, while the consumer acks what came before.
    let crash: Promise<void> | undefined;
    await publishSome(BEFORE_KILL, 'before', () => {
      crash = (async () => {
        await server.kill();
        t.diagnostic(`redis-server killed -9 after ${confirmed.length} confirmed messages`);
        await new Promise((resolve) => setTimeout(resolve, 300)); // Down for a moment: publishes wait.
        await server.restart();
      })();
    });
    await crash;
    await publishSome(AFTER_RESTART, 'after');
    await collector
      .waitAcked(confirmed, `subscriber after the crash (${rejected} publishes were retried)`)
      .catch(async (error) => {
        // waitAcked's own deadline is short for a restart; give it the longer one once.
        const deadlineMs = performance.now() + CONSUME_TIMEOUT_MS;
        while (performance.now() < deadlineMs) {
          const acked = collector.ackedIds();
          if (confirmed.every((id) => acked.has(id))) return;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        throw error;
      });
    assert.ok(transport.stats().reconnects >= 1, 'the transport never reconnected');
    // Each id's first delivery follows its key's order (a redelivered copy may come again later).
    const firsts = new Map<string, (typeof collector.deliveries)[number]>();
    for (const delivery of collector.deliveries)
      if (!firsts.has(idOf(delivery))) firsts.set(idOf(delivery), delivery);
    assertOrderedPerKey([...firsts.values()], 'across the crash');
    t.diagnostic(
      `${confirmed.length} confirmed, ${collector.deliveries.length} deliveries, ${rejected} publishes retried, ` +
        `${transport.stats().reconnects} reconnects`,
    );
  });

  it('durability - requireFsyncAlways refuses a server without appendfsync always, saying how to start one', async (t) => {
    await requireRedis();
    const probe = await redisTransport({ url: REDIS_URL });
    const config = await (
      probe as unknown as { redis: { config(...args: string[]): Promise<string[]> } }
    ).redis
      .config('GET', 'appendfsync')
      .catch(() => []);
    await probe.close();
    if (config[1] === 'always') {
      t.skip('the shared Redis runs with appendfsync always; nothing to refuse');
      return;
    }
    await assert.rejects(redisTransport({ url: REDIS_URL, requireFsyncAlways: true }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /--appendfsync always/);
      return true;
    });
  });
});
