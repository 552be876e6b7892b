/** @platformatic/kafka 2.12 against `herald serve`: producer, consumer in committed mode, admin createTopics. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { startServe, withDeadline } from './support.ts';

test('platformatic - admin createTopics, producer, consumer in committed mode', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe({ partitions: 2 });
  const bootstrapBrokers = [serve.bootstrap];
  try {
    const admin = new Admin({ clientId: 'plt-admin', bootstrapBrokers });
    await admin.createTopics({ topics: ['plt'], partitions: 2, replicas: 1 });
    const metadata = await admin.metadata({ topics: ['plt'] });
    assert.equal(metadata.topics.get('plt')?.partitionsCount, 2);
    await admin.close();

    const producer = new Producer({
      clientId: 'plt-producer',
      bootstrapBrokers,
      serializers: stringSerializers,
    });
    await producer.send({
      messages: Array.from({ length: 20 }, (_, index) => ({
        topic: 'plt',
        key: `k${index}`,
        value: `v${index}`,
      })),
    });
    await producer.close();

    const read = async (expected: number): Promise<string[]> => {
      const consumer = new Consumer({
        groupId: 'plt-group',
        clientId: 'plt-consumer',
        bootstrapBrokers,
        deserializers: stringDeserializers,
      });
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
    const producer2 = new Producer({
      clientId: 'plt-producer',
      bootstrapBrokers,
      serializers: stringSerializers,
    });
    await producer2.send({ messages: [{ topic: 'plt', value: 'later' }] });
    await producer2.close();
    assert.deepEqual(await read(1), ['later'], 'the committed position is where the next consumer starts');
  } finally {
    await serve.stop();
  }
});
