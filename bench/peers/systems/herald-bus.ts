/**
 * `herald-bus`: `createBus` over the embedded transport (`bus.publish` / `bus.on`): what an
 * application pays on top of the transport (CloudEvents envelope, JSON body, zod validation).
 */
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent, silentLogger } from '@herald/bus';
import { z } from 'zod';
import { CONSUMER_WINDOW, type SystemEntry } from '../system.ts';

/** The bus row. */
export const heraldBus: SystemEntry = {
  id: 'herald-bus',
  label: 'Herald embedded (bus)',
  open: async (context) => {
    const transport = await embeddedTransport({ dir: context.directory('bus') });
    return {
      id: 'herald-bus',
      label: 'Herald embedded (bus)',
      durability: 'fsync',
      durabilityNote: "embedded transport, fsync 'always'; CloudEvents envelope + zod validation",
      close: () => transport.close(),
      topic: async (spec) => {
        await transport.broker.createTopic(spec.name, { partitions: spec.partitions });
        const Event = defineEvent('BenchPeerEvent', {
          topic: spec.name,
          schema: z.object({ id: z.string(), t: z.number(), pad: z.string() }),
          key: (event) => event.id,
        });
        // The JSON payload is `pad` plus the fields: the bus's message is larger than the raw rows'.
        const pad = 'x'.repeat(Math.max(0, spec.payloadBytes - 40));
        const bus = () =>
          createBus({ transport, source: '/bench', logger: silentLogger, ownsTransport: false });
        const publisher = bus();
        await publisher.start();
        return {
          publish: async (index, stampMs) => {
            await publisher.publish(Event, { id: `k-${index}`, t: stampMs, pad });
          },
          consume: async (consumersPerGroup, onMessage) => {
            const buses: { stop(): Promise<void> }[] = [];
            for (const [group, name] of spec.groups.entries()) {
              for (let consumer = 0; consumer < consumersPerGroup; consumer++) {
                const subscriber = bus();
                subscriber.on(Event, { group: name, concurrency: CONSUMER_WINDOW }, (event) =>
                  onMessage(group, event.t),
                );
                await subscriber.start();
                buses.push(subscriber);
              }
            }
            return {
              close: async () => {
                for (const subscriber of buses) await subscriber.stop();
              },
            };
          },
          remove: () => publisher.stop(),
        };
      },
    };
  },
};
