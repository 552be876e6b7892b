/** Connection loss: the transport reconnects by itself, and no confirmed publish vanishes. */
import assert from 'node:assert/strict';
import type { Transport, TransportMessage } from '@herald/bus';
import {
  assertOrderedPerKey,
  CONDITION_TIMEOUT_MS,
  Collector,
  idOf,
  makeMessages,
  publishAll,
} from '../harness.ts';
import type { Scenario } from '../scenario.ts';

/** Most messages published while waiting for the drop to finish, so the loop is bounded. */
const DURING_DROP_MAX = 5_000;
/** Messages published after the drop resolved, to prove publishing works on the new connection. */
const AFTER_DROP = 20;
/** Attempts per message before the scenario gives up on it. */
const PUBLISH_ATTEMPTS_MAX = 20;

/**
 * Publishes `message` until one attempt resolves (then it is confirmed and must be consumed) or
 * the attempts or the deadline run out. Returns how many attempts were rejected.
 */
async function publishUntilConfirmed(
  transport: Transport,
  topic: string,
  message: TransportMessage,
): Promise<number> {
  const deadlineMs = performance.now() + CONDITION_TIMEOUT_MS;
  const errors: unknown[] = [];
  while (errors.length < PUBLISH_ATTEMPTS_MAX && performance.now() < deadlineMs) {
    try {
      await transport.publish(topic, [message]);
      return errors.length;
    } catch (error) {
      errors.push(error); // Rejected: it may or may not be stored; publishing again is allowed.
    }
  }
  assert.fail(
    `${idOf(message)} was never confirmed after ${errors.length} attempts: ${String(errors.at(-1))}`,
  );
}

export const reconnectScenarios: Scenario[] = [
  {
    name: 'reconnect - after the broker drops connections, publishing and consuming resume and every confirmed message arrives',
    skip: (_features, target) =>
      target.dropConnections === undefined ? 'target declares no dropConnections command' : undefined,
    async run({ transport, topic, target }) {
      const collector = new Collector();
      await transport.subscribe({ topic, group: 'g', inFlightMax: 8 }, collector.handler);
      const before = makeMessages(30, 'before', (index) => `k${index % 5}`);
      await publishAll(transport, topic, before);
      await collector.waitAcked(before.map(idOf), 'subscriber before the drop');

      let dropped = false;
      const drop = target.dropConnections!().then(() => {
        dropped = true;
      });
      // Publish one message at a time across the drop: each publish resolves or rejects on its own.
      const confirmed: string[] = [];
      let rejected = 0;
      let afterDrop = 0;
      for (let index = 0; index < DURING_DROP_MAX && afterDrop < AFTER_DROP; index++) {
        const [message] = makeMessages(1, `during${index}`, () => `k${index % 5}`, 30 + index);
        rejected += await publishUntilConfirmed(transport, topic, message!);
        confirmed.push(idOf(message!));
        if (dropped) afterDrop += 1;
      }
      await drop;
      assert.ok(afterDrop >= AFTER_DROP, `the drop did not finish within ${DURING_DROP_MAX} publishes`);
      await collector.waitAcked(
        confirmed,
        `subscriber after the drop (${rejected} publishes were rejected and retried)`,
      );
      // A publish retried after a rejection may be stored twice (at-least-once), and a message
      // delivered before the drop may come again; each copy follows later messages of its key, so
      // order is checked on each id's first delivery.
      if (transport.features.orderedPerKey) {
        const firsts = new Map<string, (typeof collector.deliveries)[number]>();
        for (const delivery of collector.deliveries) {
          if (!firsts.has(idOf(delivery))) firsts.set(idOf(delivery), delivery);
        }
        assertOrderedPerKey([...firsts.values()], 'across the drop');
      }
    },
  },
];
