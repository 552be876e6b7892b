/** Basic delivery: publish/subscribe, fan-out across groups, competing consumers within one. */
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

const needsGroups = (features: { consumerGroups: boolean }) =>
  features.consumerGroups ? undefined : 'transport does not declare consumerGroups';

export const deliveryScenarios: Scenario[] = [
  {
    name: 'delivery - every published message reaches the subscriber once',
    async run({ transport, topic }) {
      const collector = new Collector();
      await transport.subscribe({ topic, group: 'g1', inFlightMax: 16 }, collector.handler);
      const messages = makeMessages(200, 'm', (index) => `k${index % 10}`);
      await publishAll(transport, topic, messages);
      const ids = messages.map(idOf);
      await collector.waitAcked(ids);
      await quiet(() => collector.deliveries.length, 'the subscriber');
      assertSameIds(ids, collector.acked, 'acked ids');
      assertNoDuplicates(collector.acked, 'acked ids');
    },
  },
  {
    name: 'delivery - fan-out: each group receives every message',
    skip: needsGroups,
    async run({ transport, topic }) {
      const first = new Collector();
      const second = new Collector();
      await transport.subscribe({ topic, group: 'inventory', inFlightMax: 8 }, first.handler);
      await transport.subscribe({ topic, group: 'notification', inFlightMax: 8 }, second.handler);
      const messages = makeMessages(100, 'm', (index) => `k${index % 7}`);
      await publishAll(transport, topic, messages);
      const ids = messages.map(idOf);
      await first.waitAcked(ids, 'group inventory');
      await second.waitAcked(ids, 'group notification');
      await quiet(() => first.deliveries.length + second.deliveries.length, 'both groups');
      assertSameIds(ids, first.acked, 'group inventory');
      assertSameIds(ids, second.acked, 'group notification');
      assertNoDuplicates(first.acked, 'group inventory');
      assertNoDuplicates(second.acked, 'group notification');
    },
  },
  {
    name: 'delivery - competing consumers in one group share the messages without duplicates',
    skip: needsGroups,
    async run({ transport, topic }) {
      const first = new Collector();
      const second = new Collector();
      await transport.subscribe({ topic, group: 'workers', inFlightMax: 4 }, first.handler);
      await transport.subscribe({ topic, group: 'workers', inFlightMax: 4 }, second.handler);
      const messages = makeMessages(200, 'm', (index) => `k${index % 20}`);
      await publishAll(transport, topic, messages);
      const ids = messages.map(idOf);
      const union = () => [...first.acked, ...second.acked];
      await eventually(
        () => new Set(union()).size === ids.length,
        () => `both members together to ack ${ids.length} messages (have ${new Set(union()).size})`,
      );
      await quiet(() => first.deliveries.length + second.deliveries.length, 'both members');
      assertSameIds(ids, union(), 'union of both members');
      assertNoDuplicates(union(), 'union of both members');
      if (transport.features.singleActiveConsumer === undefined) {
        // A transport that hands every message to one member would pass the checks above.
        assert.ok(
          first.acked.length > 0 && second.acked.length > 0,
          `members did not share the group: ${first.acked.length} and ${second.acked.length} messages ` +
            '(declare features.singleActiveConsumer with the reason if this transport cannot share)',
        );
      }
    },
  },
  {
    // On Apache Kafka a member that joins while another one's join is completing gets
    // REBALANCE_IN_PROGRESS from SyncGroup; the transport must join again, not fail subscribe().
    name: 'delivery - three members of one group subscribing at once all join and share the messages',
    skip: needsGroups,
    async run({ transport, topic }) {
      const collectors = [new Collector(), new Collector(), new Collector()];
      await Promise.all(
        collectors.map((collector) =>
          transport.subscribe({ topic, group: 'crowd', inFlightMax: 4 }, collector.handler),
        ),
      );
      const messages = makeMessages(150, 'm', (index) => `k${index % 30}`);
      await publishAll(transport, topic, messages);
      const ids = messages.map(idOf);
      const union = () => collectors.flatMap((collector) => collector.acked);
      await eventually(
        () => new Set(union()).size === ids.length,
        () => `the three members together to ack ${ids.length} messages (have ${new Set(union()).size})`,
      );
      assertSameIds(ids, union(), 'union of the three members');
    },
  },
  {
    name: 'delivery - a message published before a new group subscribes is delivered to it',
    skip: (features) =>
      features.replaysToNewGroups ? undefined : 'transport does not declare replaysToNewGroups',
    async run({ transport, topic }) {
      const messages = makeMessages(30, 'old', (index) => `k${index % 3}`);
      await publishAll(transport, topic, messages);
      const collector = new Collector();
      await transport.subscribe({ topic, group: 'late-joiner', inFlightMax: 8 }, collector.handler);
      await collector.waitAcked(messages.map(idOf), 'late group');
      await quiet(() => collector.deliveries.length, 'the late group');
      assert.equal(collector.deliveries.length, 30);
    },
  },
];
