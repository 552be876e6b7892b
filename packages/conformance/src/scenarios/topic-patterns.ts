/**
 * Topic patterns (`features.topicPatterns`): one subscription for every matching topic, existing
 * and created later. Where the transport declares them unsupported, the bus must refuse a pattern
 * at set-up with the transport's reason instead.
 */
import assert from 'node:assert/strict';
import { ConfigurationError } from '@herald/bus';
import { eventually, ID_HEADER, makeMessages, publishAll, quiet } from '../harness.ts';
import type { Scenario } from '../scenario.ts';
import { namedEvent, skipUnlessSupported, withBus } from './bus-setup.ts';

const unsupported = skipUnlessSupported('topicPatterns', 'topic patterns');

export const topicPatternScenarios: Scenario[] = [
  {
    name: 'topic patterns - a pattern reads existing and new matching topics, and no other',
    skip: unsupported,
    async run({ transport, topic }) {
      // Published before the subscription: on a topic that exists, and read only by replaying.
      await publishAll(transport, `${topic}.existing`, makeMessages(1, 'early'));
      const seen: string[] = [];
      const subscription = await transport.subscribe(
        { topic: `${topic}.*`, group: 'patterns', inFlightMax: 16 },
        async (message) => {
          seen.push(`${message.topic}/${message.headers[ID_HEADER]}`);
          await message.ack();
        },
      );
      try {
        await publishAll(transport, `${topic}.deeper.not`, makeMessages(1, 'deep'));
        await publishAll(transport, `${topic}x`, makeMessages(1, 'prefix'));
        await publishAll(transport, `${topic}.existing`, makeMessages(1, 'later'));
        await publishAll(transport, `${topic}.created`, makeMessages(2, 'new'));
        const expected = [`${topic}.created/new-0`, `${topic}.created/new-1`, `${topic}.existing/later-0`];
        if (transport.features.replaysToNewGroups) expected.push(`${topic}.existing/early-0`);
        await eventually(
          () => expected.every((entry) => seen.includes(entry)),
          () => `the matching messages ${expected.join(', ')}; seen ${seen.join(', ') || 'nothing'}`,
        );
        // The non-matching messages were published first; after a quiet window none may show.
        await quiet(() => seen.length, 'the pattern subscription');
        assert.deepEqual([...seen].sort(), [...expected].sort());
      } finally {
        await subscription.close();
      }
    },
  },
  {
    name: 'topic patterns - bus.on with topicPattern handles every matching topic, not dead letters',
    skip: unsupported,
    async run({ transport, topic }) {
      const Shipped = namedEvent('Shipped', `${topic}.shipped`);
      const Failed = namedEvent('Failed', `${topic}.failed`);
      const handled: string[] = [];
      const options = { group: 'audit', topicPattern: `${topic}.>` };
      await withBus(
        transport,
        async (bus) => {
          bus.on(Shipped, options, (data) => {
            handled.push(data.name);
          });
          bus.on(Failed, options, (data) => {
            handled.push(data.name);
            throw new Error('always fails');
          });
          await bus.start();
          await bus.publish(Failed, { name: 'doomed' });
          await bus.publish(Shipped, { name: 'parcel' });
          await eventually(
            () => handled.includes('parcel') && handled.includes('doomed'),
            () => `both handlers to run; ran for ${handled.join(', ') || 'nothing'}`,
          );
          // `${topic}.failed.dlq` matches `${topic}.>`: its dead letter must not be handled again.
          await quiet(() => handled.length, 'the handlers');
          assert.deepEqual([...handled].sort(), ['doomed', 'parcel']);
        },
        { retry: { attempts: 1 } },
      );
    },
  },
  {
    name: 'topic patterns - where unsupported, bus.on refuses a pattern with the reason',
    skip: (features) =>
      unsupported(features) === undefined ? 'the transport supports topic patterns' : undefined,
    async run({ transport, topic }) {
      const Tick = namedEvent('Tick', topic);
      const reason =
        transport.features.topicPatterns?.mode === 'unsupported'
          ? transport.features.topicPatterns.reason
          : '';
      await withBus(transport, async (bus) => {
        assert.throws(
          () => bus.on(Tick, { group: 'g', topicPattern: `${topic}.*` }, () => undefined),
          (error: unknown) => error instanceof ConfigurationError && error.message.includes(reason),
        );
      });
    },
  },
];
