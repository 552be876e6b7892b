/**
 * The outbox core of the bus against an in-memory `OutboxStore`: `withStaging` keeps the raw
 * client working and builds rows as `bus.publish` builds envelopes; the relay publishes per key in
 * order, holds back only the key whose publish failed, and retries it on the fallback pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '@herald/test-support';
import { z } from 'zod';
import {
  createBus,
  defineEvent,
  type Envelope,
  type IdempotencyStore,
  memoryIdempotencyStore,
  memoryTransport,
  type OutboxRecord,
  type OutboxStore,
  type StagedRecord,
  silentLogger,
  type Transport,
  withStaging,
} from '../src/index.ts';

const Credited = defineEvent('Credited', {
  topic: 'credits',
  schema: z.object({ account: z.string(), amount: z.number() }),
  key: (credit) => credit.account,
});

/** An outbox in memory: staging "commits" at once and wakes the watchers. */
function memoryOutbox(): OutboxStore & { readonly rows: (StagedRecord & { sent: boolean })[] } {
  const rows: (StagedRecord & { sent: boolean })[] = [];
  const listeners = new Set<() => void>();
  return {
    name: 'memory-outbox',
    rows,
    async stage(_transaction: unknown, records: readonly OutboxRecord[]) {
      for (const record of records) rows.push({ ...record, seq: rows.length + 1, sent: false });
      for (const listener of listeners) listener();
    },
    async transaction(work) {
      return work({ kind: 'memory transaction' });
    },
    async relay(batchRows, publish) {
      const claimed = rows.filter((row) => !row.sent).slice(0, batchRows);
      const published = await publish(claimed);
      for (const row of claimed) if (published.has(row.id)) row.sent = true;
      return { claimed: claimed.length, published: published.size, failed: published.size < claimed.length };
    },
    watch(listener) {
      listeners.add(listener);
      return async () => {
        listeners.delete(listener);
      };
    },
    async prune() {
      return 0;
    },
    async lag() {
      const unsent = rows.filter((row) => !row.sent);
      return { unsentCount: unsent.length, oldestUnsentAgeMs: 0 };
    },
  };
}

/** A memory transport whose publishes of `failingKey` reject while `failing` is true. */
function flakyTransport(): Transport & { failing: boolean } {
  const inner = memoryTransport();
  const flaky = {
    failing: true,
    name: inner.name,
    features: inner.features,
    publish: (topic: string, messages: Parameters<Transport['publish']>[1]) =>
      flaky.failing && messages.some((message) => message.key === 'a-bad')
        ? Promise.reject(new Error('broker refused'))
        : inner.publish(topic, messages),
    subscribe: (...args: Parameters<Transport['subscribe']>) => inner.subscribe(...args),
    close: (options?: Parameters<Transport['close']>[0]) => inner.close(options),
  };
  return flaky;
}

describe('outbox', { timeout: 60_000 }, () => {
  it('outbox - withStaging keeps the raw client (methods, identity) and stages rows caused by the handled message', async () => {
    class Client {
      readonly #secret = 42;
      query(): number {
        return this.#secret;
      }
    }
    const store = memoryOutbox();
    const client = new Client();
    const cause = {
      id: 'cause-1',
      correlationid: 'flow-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      extensions: {},
    } as unknown as Envelope;
    const tx = withStaging(client, store, '/test/source', cause);
    assert.equal(tx.query(), 42, 'a method using a private field still works through the proxy');
    assert.ok(tx instanceof Client);
    await tx.publish(Credited, { account: 'a-1', amount: 5 }, { extensions: { tenant: 't1' } });
    const [row] = store.rows;
    assert.equal(row!.source, '/test/source');
    assert.equal(row!.key, 'a-1');
    assert.equal(row!.correlationId, 'flow-1');
    assert.equal(row!.causationId, 'cause-1');
    assert.equal(row!.traceparent, cause.traceparent, 'no active span: the cause carries the trace');
    assert.deepEqual(row!.extensions, { tenant: 't1' });
    assert.deepEqual(JSON.parse(row!.data), { account: 'a-1', amount: 5 });
    await assert.rejects(tx.publish(Credited, { account: 'a-1', amount: 'five' } as never), /payload/);
    assert.equal(store.rows.length, 1, 'an invalid payload stages nothing');
  });

  it('outbox - the relay publishes per key in order, holds back only a failing key, and retries it', async () => {
    const store = memoryOutbox();
    const idempotency: IdempotencyStore = { ...memoryIdempotencyStore(), outbox: store };
    const transport = flakyTransport();
    const bus = createBus({
      transport,
      idempotency,
      contracts: [Credited],
      logger: silentLogger,
      outboxRelay: { fallbackIntervalMs: 50 },
    });
    const received: string[] = [];
    bus.on(Credited, { group: 'reader' }, (credit) => {
      received.push(`${credit.account}:${credit.amount}`);
    });
    await bus.start();
    try {
      for (let amount = 1; amount <= 3; amount++) {
        await bus.transaction(async (tx) => {
          await tx.publish(Credited, { account: 'a-bad', amount });
          await tx.publish(Credited, { account: 'a-good', amount });
        });
      }
      await eventually(
        () => received.filter((entry) => entry.startsWith('a-good')).length === 3,
        'the good key',
      );
      assert.deepEqual(received, ['a-good:1', 'a-good:2', 'a-good:3'], 'the failing key held back, in order');
      transport.failing = false;
      await eventually(() => received.length === 6, 'the failing key after the broker recovered');
      assert.deepEqual(
        received.filter((entry) => entry.startsWith('a-bad')),
        ['a-bad:1', 'a-bad:2', 'a-bad:3'],
      );
      assert.ok(store.rows.every((row) => row.sent));
    } finally {
      await bus.stop();
    }
  });
});
