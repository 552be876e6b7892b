/**
 * A {@link Topic} on any Herald transport, driven at the transport layer: the Herald rows
 * (embedded, Kafka, RabbitMQ…) differ only in the transport they open.
 */
import type { Transport } from '@herald/bus';
import { CONSUMER_WINDOW, readStamp, stampedBody, type Topic, type TopicSpec } from '../system.ts';

/** A topic on `transport` (which must already know `spec.name`, where topics are declared). */
export function transportTopic(transport: Transport, spec: TopicSpec): Topic {
  return {
    publish: (index, stampMs) =>
      transport.publish(spec.name, [
        { key: `k-${index}`, headers: {}, body: stampedBody(spec.payloadBytes, stampMs) },
      ]),
    consume: async (consumersPerGroup, onMessage) => {
      const subscriptions: { close(): Promise<void> }[] = [];
      for (const [group, name] of spec.groups.entries()) {
        for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
          subscriptions.push(
            await transport.subscribe(
              { topic: spec.name, group: name, inFlightMax: CONSUMER_WINDOW },
              async (message) => {
                onMessage(group, readStamp(message.body));
                await message.ack();
              },
            ),
          );
        }
      }
      return {
        close: async () => {
          for (const subscription of subscriptions) await subscription.close();
        },
      };
    },
    remove: async () => {},
  };
}
