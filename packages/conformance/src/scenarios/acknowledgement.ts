/** Ack, nack, redelivery and the per-key ordering promise. */
import assert from 'node:assert/strict';
import {
  assertNoDuplicates,
  assertSameIds,
  Collector,
  eventually,
  idOf,
  makeMessages,
  publishAll,
  quiet,
} from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const needsOrder = (features: { orderedPerKey: boolean }) =>
  features.orderedPerKey ? undefined : 'transport does not declare orderedPerKey';

export const acknowledgementScenarios: Scenario[] = [
  {
    name: 'ack - a nacked message is redelivered with a higher attempt count',
    async run({ transport, topic }) {
      const seen = new Map<string, number>();
      const collector = new Collector((message) => {
        const count = (seen.get(idOf(message)) ?? 0) + 1;
        seen.set(idOf(message), count);
        return count === 1 ? 'nack' : 'ack';
      });
      await transport.subscribe({ topic, group: 'g', inFlightMax: 4 }, collector.handler);
      const messages = makeMessages(5, 'n', (index) => `k${index}`);
      await publishAll(transport, topic, messages);
      await collector.waitAcked(messages.map(idOf));
      await quiet(() => collector.deliveries.length, 'the subscriber');
      for (const message of messages) assert.equal(seen.get(idOf(message)), 2, `${idOf(message)} deliveries`);
      const redelivered = collector.deliveries.filter((delivery) => delivery.deliveryAttempt >= 2);
      assert.equal(redelivered.length, 5, 'every redelivery reports deliveryAttempt ≥ 2');
    },
  },
  {
    name: 'ack - nack with delayMs is not redelivered before the delay',
    async run({ transport, topic }) {
      const deliveredAtMs: number[] = [];
      const delayMs = 300;
      const collector = new Collector(async (message) => {
        deliveredAtMs.push(performance.now());
        if (deliveredAtMs.length === 1) {
          await message.nack({ delayMs });
          return 'hold';
        }
        return 'ack';
      });
      await transport.subscribe({ topic, group: 'g', inFlightMax: 1 }, collector.handler);
      await transport.publish(topic, makeMessages(1, 'd'));
      await collector.waitAcked(['d-0']);
      const gapMs = deliveredAtMs[1]! - deliveredAtMs[0]!;
      assert.ok(
        gapMs >= delayMs - 5,
        `redelivered after ${gapMs.toFixed(0)} ms, before the ${delayMs} ms delay`,
      );
    },
  },
  {
    name: 'ack - a handler that throws does not stop the subscription; its message comes back',
    async run({ transport, topic }) {
      let thrown = false;
      const collector = new Collector((message) => {
        if (idOf(message) === 'e-3' && !thrown) {
          thrown = true;
          throw new Error('handler failure on purpose');
        }
        return 'ack';
      });
      await transport.subscribe({ topic, group: 'g', inFlightMax: 2 }, collector.handler);
      const messages = makeMessages(10, 'e');
      await publishAll(transport, topic, messages);
      await collector.waitAcked(messages.map(idOf));
      assert.ok(thrown);
      assertSameIds(messages.map(idOf), collector.acked, 'acked after a throw');
    },
  },
  {
    name: 'order - no ack means no next message for that key, while other keys flow',
    skip: needsOrder,
    async run({ transport, topic }) {
      let release: (() => Promise<void>) | undefined;
      const collector = new Collector((message) => {
        if (idOf(message) === 'a-0') {
          release = () => message.ack();
          return 'hold';
        }
        return 'ack';
      });
      await transport.subscribe({ topic, group: 'g', inFlightMax: 8 }, collector.handler);
      await transport.publish(topic, [
        ...makeMessages(2, 'a', () => 'key-a'),
        ...makeMessages(5, 'b', () => 'key-b'),
      ]);
      // Key b flowing proves the subscription is live; a-1 must still be waiting behind a-0. On a
      // partitioned transport the keys may sit in different partitions read at different times,
      // so wait for a-0 too instead of assuming it came first.
      await collector.waitAcked(['b-0', 'b-1', 'b-2', 'b-3', 'b-4'], 'other key');
      await eventually(
        () => release !== undefined,
        () => 'a-0 to be delivered',
      );
      // The window in which a transport that ignores the held a-0 would deliver a-1.
      await quiet(() => collector.deliveries.length, 'the subscriber while a-0 is held');
      const seenIds = collector.deliveries.map(idOf);
      assert.ok(!seenIds.includes('a-1'), 'a-1 was delivered while a-0 was unacknowledged');
      await release!();
      await collector.waitAcked(['a-1'], 'next message of key a after the ack');
    },
  },
  {
    name: 'order - messages of one key are processed in publish order under concurrency, with a nack mid-stream',
    skip: needsOrder,
    async run({ transport, topic }) {
      const keys = 8;
      const perKey = 40;
      const processed = new Map<string, number[]>();
      let nacked = false;
      const collector = new Collector(async (message) => {
        const sequence = Number(message.headers['x-sequence']);
        if (!nacked && sequence === 17) {
          nacked = true;
          return 'nack';
        }
        await new Promise((resolve) => setTimeout(resolve, sequence % 3));
        const key = message.key!;
        processed.set(key, [...(processed.get(key) ?? []), sequence]);
        return 'ack';
      });
      await transport.subscribe({ topic, group: 'g', inFlightMax: 8 }, collector.handler);
      const messages = makeMessages(keys * perKey, 'o', (index) => `key-${index % keys}`);
      await publishAll(transport, topic, messages, 64);
      await collector.waitAcked(messages.map(idOf));
      await quiet(() => collector.deliveries.length, 'the subscriber');
      assert.equal(processed.size, keys, `keys processed: ${[...processed.keys()].join(', ')}`);
      for (const [key, sequences] of processed) {
        // Each key's own sequence numbers, each exactly once and in publish order.
        const index = Number(key.slice('key-'.length));
        const expected = Array.from({ length: perKey }, (_, position) => index + position * keys);
        assert.deepEqual(sequences, expected, `key ${key} processed out of order, twice or not at all`);
      }
      assert.ok(nacked);
    },
  },
  {
    name: 'ack - settling twice is harmless: a nack after an ack does not redeliver',
    async run({ transport, topic }) {
      const collector = new Collector(async (message) => {
        if (idOf(message) === 'marker-0') return 'ack';
        await message.ack();
        await message.ack();
        await message.nack();
        return 'hold';
      });
      await transport.subscribe({ topic, group: 'g', inFlightMax: 2 }, collector.handler);
      await transport.publish(topic, [
        ...makeMessages(3, 's', () => 'one-key'),
        ...makeMessages(1, 'marker', () => 'one-key'),
      ]);
      await collector.waitAcked(['marker-0']);
      await eventually(
        () => collector.deliveries.length >= 4,
        () => 'every message delivered',
      );
      await quiet(() => collector.deliveries.length, 'the subscriber');
      const delivered = collector.deliveries.map(idOf);
      assertNoDuplicates(delivered, 'deliveries after settling twice');
      assertSameIds(['s-0', 's-1', 's-2', 'marker-0'], delivered, 'deliveries after settling twice');
      if (transport.features.orderedPerKey) {
        assert.deepEqual(delivered, ['s-0', 's-1', 's-2', 'marker-0'], 'one key, publish order');
      }
    },
  },
];
