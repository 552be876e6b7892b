/** Closing: twice, concurrently, while handlers run; publishing after close; restart with persistence. */
import assert from 'node:assert/strict';
import { ClosedError, type Transport } from '@herald/bus';
import {
  assertOrderedPerKey,
  assertSameIds,
  Collector,
  eventually,
  idOf,
  makeMessages,
  publishAll,
  quiet,
} from '../harness.ts';
import type { Scenario } from '../scenario.ts';

export const lifecycleScenarios: Scenario[] = [
  {
    name: 'close - closing twice resolves both times',
    async run({ transport }) {
      await transport.close();
      await transport.close();
    },
  },
  {
    name: 'close - concurrent closes of subscriptions and transport, while a handler runs, all resolve',
    async run({ transport, topic }) {
      let entered: () => void = () => {};
      const handlerEntered = new Promise<void>((resolve) => {
        entered = resolve;
      });
      let finish: () => void = () => {};
      const handlerBlocked = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const subscription = await transport.subscribe(
        { topic, group: 'g', inFlightMax: 1 },
        async (message) => {
          entered();
          await handlerBlocked;
          await message.ack(); // After close: must be a harmless no-op.
        },
      );
      await transport.publish(topic, makeMessages(3, 'c'));
      await handlerEntered;
      await Promise.all([subscription.close(), subscription.close(), transport.close(), transport.close()]);
      finish();
    },
  },
  {
    name: 'close - publish and subscribe after close reject with ClosedError',
    async run({ transport, topic }) {
      await transport.close();
      await assert.rejects(transport.publish(topic, makeMessages(1, 'p')), ClosedError);
      await assert.rejects(
        transport.subscribe({ topic, group: 'g', inFlightMax: 1 }, async () => {}),
        ClosedError,
      );
    },
  },
  {
    name: 'close - a closed subscription receives nothing more and its unsettled message goes to the group',
    async run({ transport, topic }) {
      const first = new Collector((message) => (idOf(message) === 'u-0' ? 'hold' : 'ack'));
      const firstSubscription = await transport.subscribe(
        { topic, group: 'g', inFlightMax: 1 },
        first.handler,
      );
      await transport.publish(topic, makeMessages(1, 'u'));
      await eventually(
        () => first.deliveries.length === 1,
        () => 'the first member to receive u-0',
      );
      await firstSubscription.close();
      const second = new Collector();
      await transport.subscribe({ topic, group: 'g', inFlightMax: 1 }, second.handler);
      await second.waitAcked(['u-0'], 'second member');
      // More messages after the close: all must go to the live member, none to the closed one.
      const later = makeMessages(20, 'later', (index) => `k${index % 4}`);
      await publishAll(transport, topic, later);
      await second.waitAcked(later.map(idOf), 'second member, messages published after the close');
      await quiet(() => first.deliveries.length + second.deliveries.length, 'both members');
      assert.equal(first.deliveries.length, 1, 'closed member received more');
    },
  },
  {
    name: 'restart - published messages and acked positions survive a restart',
    skip: (features, target) =>
      !features.persistent
        ? 'transport does not declare persistent'
        : target.restart === undefined
          ? 'target declares no restart command'
          : undefined,
    async run(context) {
      const { topic, target } = context;
      const messages = makeMessages(40, 'r', (index) => `k${index % 4}`);
      const before = new Collector((message) =>
        Number(message.headers['x-sequence']) < 20 ? 'ack' : 'hold',
      );
      // The group subscribes before anything is published, so transports where a group starts at
      // the end (RabbitMQ) keep every message for it. Room for every message at once, so the held
      // half cannot starve the acked half, whatever order a partitioned transport delivers in.
      const subscription = await context.transport.subscribe(
        { topic, group: 'g', inFlightMax: 64 },
        before.handler,
      );
      await publishAll(context.transport, topic, messages);
      const firstHalf = messages.slice(0, 20).map(idOf);
      await before.waitAcked(firstHalf, 'before restart');
      await subscription.close();
      const restarted: Transport = await target.restart!(context.transport);
      context.replaceTransport(restarted);
      const after = new Collector();
      await restarted.subscribe({ topic, group: 'g', inFlightMax: 4 }, after.handler);
      const secondHalf = messages.slice(20).map(idOf);
      // Published after the restart, on the same keys: they must queue behind the held half.
      const more = makeMessages(20, 'r-after', (index) => `k${index % 4}`, 40);
      await publishAll(restarted, topic, more);
      await after.waitAcked([...secondHalf, ...more.map(idOf)], 'after restart');
      await quiet(() => after.deliveries.length, 'the group after the restart');
      const redelivered = after.acked.filter((id) => firstHalf.includes(id));
      assert.deepEqual(redelivered, [], 'messages acked before the restart were delivered again');
      if (restarted.features.orderedPerKey) assertOrderedPerKey(after.deliveries, 'after the restart');
      if (restarted.features.replaysToNewGroups) {
        const fresh = new Collector();
        await restarted.subscribe({ topic, group: 'fresh', inFlightMax: 8 }, fresh.handler);
        const everything = [...messages, ...more].map(idOf);
        await fresh.waitAcked(everything, 'new group after restart');
        assertSameIds(everything, fresh.acked, 'new group after restart');
      }
    },
  },
];
