/** @platformatic/kafka 2.12 against `herald serve`: producer, consumer in committed mode, admin createTopics. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDeadline } from '@herald/test-support';
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { startServe } from './support.ts';

test('platformatic - admin createTopics, producer, consumer in committed mode', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe({ partitions: 2 });
  const bootstrapBrokers = [serve.bootstrap];
  // Closed in `finally` too (closing twice is a no-op), so a failed assertion leaves no client behind.
  const closers: (() => Promise<void>)[] = [];
  const track = <T>(client: T, close: (client: T) => Promise<void>): T => {
    closers.push(() => close(client));
    return client;
  };
  try {
    const admin = track(new Admin({ clientId: 'plt-admin', bootstrapBrokers }), (admin) => admin.close());
    await admin.createTopics({ topics: ['plt'], partitions: 2, replicas: 1 });
    const metadata = await admin.metadata({ topics: ['plt'] });
    assert.equal(metadata.topics.get('plt')?.partitionsCount, 2);
    await admin.close();

    const producer = track(
      new Producer({
        clientId: 'plt-producer',
        bootstrapBrokers,
        serializers: stringSerializers,
      }),
      (client) => client.close(),
    );
    await producer.send({
      messages: Array.from({ length: 20 }, (_, index) => ({
        topic: 'plt',
        key: `k${index}`,
        value: `v${index}`,
      })),
    });
    await producer.close();

    const read = async (expected: number): Promise<string[]> => {
      const consumer = track(
        new Consumer({
          groupId: 'plt-group',
          clientId: 'plt-consumer',
          bootstrapBrokers,
          deserializers: stringDeserializers,
        }),
        (client) => client.close(true),
      );
      const values: string[] = [];
      const stream = await consumer.consume({
        topics: ['plt'],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
      });
      await withDeadline(
        (async () => {
          for await (const message of stream) {
            values.push(message.value as string);
            await message.commit();
            if (values.length >= expected) break;
          }
        })(),
        30_000,
        `${expected} messages`,
      );
      await stream.close();
      await consumer.close(true);
      return values;
    };
    assert.equal(new Set(await read(20)).size, 20);
    const producer2 = track(
      new Producer({
        clientId: 'plt-producer',
        bootstrapBrokers,
        serializers: stringSerializers,
      }),
      (client) => client.close(),
    );
    await producer2.send({ messages: [{ topic: 'plt', value: 'later' }] });
    await producer2.close();
    assert.deepEqual(await read(1), ['later'], 'the committed position is where the next consumer starts');
  } finally {
    for (const close of closers) {
      await withDeadline(Promise.resolve().then(close), 10_000, 'a client to close').catch(() => {});
    }
    await serve.stop();
  }
});
