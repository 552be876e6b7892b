/**
 * The event store's contract on both backends: appends with expected versions, conflicts as typed
 * retriable errors, reads forward and backward, readAll pages, category subscriptions with
 * checkpoints, upcasting on read, and the concurrency acceptance test (16 writers, 100 streams).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { defineEvent, ValidationError } from '@herald/bus';
import { isHeraldError } from '@herald/errors';
import { event, memoryCheckpoints, type RecordedEvent, WrongExpectedVersionError } from '@herald/eventstore';
import { z } from 'zod';
import { BACKENDS, type OpenedStore, openFresh, Written } from './support/backends.ts';

const written = (writer: number, expected: number, serial = 0) =>
  event(Written, { writer, expected, serial });

async function poll(
  check: () => boolean | Promise<boolean>,
  what: string,
  deadlineMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const backend of BACKENDS) {
  describe(`event store (${backend})`, { timeout: 120_000 }, () => {
    const opened: OpenedStore[] = [];
    const fresh = async (contracts?: Parameters<typeof openFresh>[1]) => {
      const store = await openFresh(backend, contracts);
      opened.push(store);
      return store;
    };
    after(async () => {
      for (const store of opened) await store.cleanup();
    });

    it('event store - append with expected versions, conflict is a typed retriable error', async () => {
      const { store } = await fresh();
      const first = await store.appendToStream('order-1', [written(1, 0), written(1, 0, 1)], {
        expectedVersion: 0,
      });
      assert.equal(first.version, 2);
      await assert.rejects(
        store.appendToStream('order-1', [written(2, 0)], { expectedVersion: 0 }),
        (error) => {
          assert.ok(error instanceof WrongExpectedVersionError);
          assert.ok(isHeraldError(error, 'HERALD_WRONG_EXPECTED_VERSION'));
          assert.equal(error.retriable, true);
          assert.equal(error.actualVersion, 2);
          return true;
        },
      );
      const third = await store.appendToStream('order-1', [written(1, 2)], { expectedVersion: 2 });
      assert.equal(third.version, 3);
      assert.equal((await store.appendToStream('order-1', [written(3, 3)])).version, 4, "'any' by default");
      assert.equal(await store.streamVersion('order-1'), 4);
      assert.equal(await store.streamVersion('order-2'), 0);
      await assert.rejects(
        store.appendToStream('order-1', [event(Written, { writer: 'x' } as never)]),
        ValidationError,
      );
      assert.equal(await store.streamVersion('order-1'), 4, 'an invalid payload writes nothing');
    });

    it('event store - readStream forward, backward, from a version; readAll in pages', async () => {
      const { store } = await fresh();
      for (let index = 0; index < 5; index++) {
        await store.appendToStream('order-a', [written(0, index, index)], { expectedVersion: index });
        await store.appendToStream('cart-b', [written(1, index, index)], { expectedVersion: index });
      }
      const forward = await store.readStream('order-a');
      assert.deepEqual(
        forward.map((e) => e.version),
        [1, 2, 3, 4, 5],
      );
      assert.deepEqual(
        forward.map((e) => (e.data as { serial: number }).serial),
        [0, 1, 2, 3, 4],
      );
      const from3 = await store.readStream('order-a', { fromVersion: 3, countMax: 2 });
      assert.deepEqual(
        from3.map((e) => e.version),
        [3, 4],
      );
      const backward = await store.readStream('order-a', { direction: 'backward', countMax: 3 });
      assert.deepEqual(
        backward.map((e) => e.version),
        [5, 4, 3],
      );
      const backwardFrom2 = await store.readStream('order-a', { direction: 'backward', fromVersion: 2 });
      assert.deepEqual(
        backwardFrom2.map((e) => e.version),
        [2, 1],
      );
      assert.deepEqual(await store.readStream('nothing-here'), []);
      const all: RecordedEvent[] = [];
      let position = 0n;
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.readAll({ fromPosition: position, countMax: 3 });
        if (page.events.length === 0) break;
        all.push(...page.events);
        position = page.nextPosition;
      }
      assert.equal(all.length, 10);
      assert.deepEqual(
        all.map((e) => e.stream),
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'order-a' : 'cart-b')),
      );
      for (let index = 1; index < all.length; index++)
        assert.ok(all[index]!.position > all[index - 1]!.position);
      assert.ok((await store.headPosition()) > all.at(-1)!.position);
    });

    it('event store - category subscription: catch-up then live, resumes from its checkpoint', async () => {
      const { store } = await fresh();
      await store.appendToStream('order-1', [written(0, 0)]);
      await store.appendToStream('cart-1', [written(0, 0)]);
      const checkpoints = memoryCheckpoints();
      const seen: string[] = [];
      const subscription = store.subscribe({ name: 'orders', category: 'order', checkpoints }, (e) => {
        seen.push(`${e.stream}@${e.version}`);
      });
      try {
        await subscription.caughtUp();
        assert.deepEqual(seen, ['order-1@1']);
        await store.appendToStream('order-2', [written(0, 0)]);
        await store.appendToStream('cart-1', [written(0, 1)]);
        await poll(() => seen.length === 2, 'the live event');
        assert.deepEqual(seen, ['order-1@1', 'order-2@1']);
      } finally {
        await subscription.close();
      }
      await store.appendToStream('order-1', [written(0, 1)]);
      const again: string[] = [];
      const resumed = store.subscribe({ name: 'orders', category: 'order-*', checkpoints }, (e) => {
        again.push(`${e.stream}@${e.version}`);
      });
      try {
        await resumed.caughtUp();
        assert.deepEqual(again, ['order-1@2'], 'resumes after the checkpoint');
      } finally {
        await resumed.close();
      }
    });

    it('event store - reads upcast older contract versions', async () => {
      const V1 = defineEvent('Renamed', { topic: 't', schema: z.object({ name: z.string() }) });
      const V2 = defineEvent('Renamed', {
        topic: 't',
        version: 2,
        schema: z.object({ fullName: z.string() }),
        upcasters: { 1: (v1: { name: string }) => ({ fullName: v1.name }) },
      });
      const opened = await fresh([V2]);
      await opened.store.appendToStream('user-1', [event(V1, { name: 'Ada' })]);
      const [read] = await opened.store.readStream('user-1');
      assert.deepEqual(read?.data, { fullName: 'Ada' });
    });

    it('event store - 16 writers on the same 100 streams: no lost update, every conflict surfaced', {
      timeout: 90_000,
    }, async (t) => {
      const { store } = await fresh();
      const streams = 100;
      const writers = 16;
      const appendsPerWriter = backend === 'embedded' ? 150 : 40;
      const known = new Array<number>(streams).fill(0);
      const successes: { writer: number; stream: number; version: number }[] = [];
      let conflicts = 0;
      let random = 12345;
      const next = () => {
        random = (Math.imul(random, 1103515245) + 12345) & 0x7fffffff;
        return random;
      };
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let serial = 0; serial < appendsPerWriter; serial++) {
            // Skewed choice, so writers collide often on the hot streams.
            const stream = next() % (next() % 2 === 0 ? 10 : streams);
            const expected = known[stream]!;
            try {
              const result = await store.appendToStream(
                `acct-${stream}`,
                [written(writer, expected, serial)],
                {
                  expectedVersion: expected,
                },
              );
              assert.equal(result.version, expected + 1);
              successes.push({ writer, stream, version: result.version });
              known[stream] = Math.max(known[stream]!, result.version);
            } catch (error) {
              assert.ok(error instanceof WrongExpectedVersionError, `unexpected ${String(error)}`);
              assert.ok(error.actualVersion !== expected);
              conflicts++;
              known[stream] = Math.max(known[stream]!, error.actualVersion);
            }
          }
        }),
      );
      t.diagnostic(`${successes.length} appends, ${conflicts} conflicts`);
      assert.equal(successes.length + conflicts, writers * appendsPerWriter);
      assert.ok(conflicts > 0, 'the writers collided');
      let total = 0;
      for (let stream = 0; stream < streams; stream++) {
        const events = await store.readStream(`acct-${stream}`);
        total += events.length;
        events.forEach((e, index) => {
          assert.equal(e.version, index + 1, 'versions are dense');
          // No lost update: each event was decided on the version right before it.
          assert.equal((e.data as { expected: number }).expected, index);
        });
      }
      assert.equal(total, successes.length, 'every acknowledged append is stored, nothing else');
    });
  });
}
