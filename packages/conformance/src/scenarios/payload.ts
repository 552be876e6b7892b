/** What a message carries: headers, envelope, key and bytes arrive unchanged; limits are enforced. */
import assert from 'node:assert/strict';
import {
  ConfigurationError,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  messageSizeBytes,
  PayloadTooLargeError,
  type ReceivedMessage,
  uuidv7,
} from '@herald/bus';
import { eventually } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

async function receiveOne(
  transport: import('@herald/bus').Transport,
  topic: string,
): Promise<() => ReceivedMessage | undefined> {
  let received: ReceivedMessage | undefined;
  await transport.subscribe({ topic, group: 'g', inFlightMax: 1 }, async (message) => {
    received = message;
    await message.ack();
  });
  return () => received;
}

export const payloadScenarios: Scenario[] = [
  {
    name: 'payload - headers, key, CloudEvents envelope and body bytes are preserved',
    async run({ transport, topic }) {
      const envelope: Envelope = {
        specversion: '1.0',
        id: uuidv7(),
        source: '/conformance/payload',
        type: 'ThingHappened',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        subject: 'thing-1',
        partitionkey: 'thing-1',
        correlationid: uuidv7(),
        causationid: uuidv7(),
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        dataversion: 3,
        extensions: { tenant: 'acme' },
        data: { text: 'naïve café ✓ 日本', amount: 12.5, nested: { list: [1, null, true] } },
      };
      const message = encodeEnvelope(envelope);
      const binary = {
        key: 'raw-key',
        headers: { 'x-binary': 'yes', 'x-empty': '' },
        body: new Uint8Array([0, 255, 128, 7]),
      };
      const received: ReceivedMessage[] = [];
      await transport.subscribe({ topic, group: 'g', inFlightMax: 2 }, async (delivery) => {
        received.push(delivery);
        await delivery.ack();
      });
      await transport.publish(topic, [message, binary]);
      await eventually(
        () => received.length === 2,
        () => `2 messages (have ${received.length})`,
      );
      const asEnvelope = received.find((delivery) => delivery.headers.ce_id !== undefined)!;
      assert.deepEqual(decodeEnvelope(asEnvelope), envelope);
      assert.equal(asEnvelope.key, 'thing-1');
      assert.equal(asEnvelope.headers['content-type'], 'application/json');
      const raw = received.find((delivery) => delivery.headers['x-binary'] === 'yes')!;
      assert.equal(raw.key, 'raw-key');
      assert.equal(raw.headers['x-empty'], '');
      assert.deepEqual([...raw.body], [0, 255, 128, 7]);
      assert.ok(
        raw.timestampMs > Date.now() - 60_000 && raw.timestampMs <= Date.now() + 1000,
        'timestampMs is now',
      );
    },
  },
  {
    name: 'payload - a message exactly at messageBytesMax is accepted and arrives intact',
    async run({ transport, topic }) {
      const limit = transport.features.messageBytesMax;
      const headers = { 'x-conformance-id': 'big' };
      const overhead = messageSizeBytes({ key: 'k', headers, body: new Uint8Array(0) });
      const body = new Uint8Array(limit - overhead);
      for (let index = 0; index < body.length; index += 4096) body[index] = index % 251;
      body[body.length - 1] = 42;
      const read = await receiveOne(transport, topic);
      await transport.publish(topic, [{ key: 'k', headers, body }]);
      await eventually(
        () => read() !== undefined,
        () => `the ${limit}-byte message`,
      );
      assert.equal(read()!.body.byteLength, body.byteLength);
      assert.ok(Buffer.from(read()!.body).equals(Buffer.from(body)), 'large body bytes differ');
    },
  },
  {
    name: 'payload - a message over messageBytesMax is rejected with PayloadTooLargeError naming the limit',
    async run({ transport, topic }) {
      const limit = transport.features.messageBytesMax;
      const body = new Uint8Array(limit + 1);
      await assert.rejects(transport.publish(topic, [{ headers: {}, body }]), (error: unknown) => {
        assert.ok(
          error instanceof PayloadTooLargeError,
          `expected PayloadTooLargeError, got ${String(error)}`,
        );
        assert.equal(error.limitBytes, limit);
        assert.match(error.message, new RegExp(String(limit)));
        return true;
      });
    },
  },
  {
    name: 'payload - an invalid topic or group name is rejected with ConfigurationError',
    async run({ transport }) {
      await assert.rejects(
        transport.publish('bad topic!', [{ headers: {}, body: new Uint8Array(1) }]),
        ConfigurationError,
      );
      await assert.rejects(
        transport.subscribe({ topic: 'bad topic!', group: 'g', inFlightMax: 1 }, async () => {}),
        ConfigurationError,
      );
      await assert.rejects(
        transport.subscribe({ topic: 'fine', group: 'bad group!', inFlightMax: 1 }, async () => {}),
        ConfigurationError,
      );
      await assert.rejects(
        transport.subscribe({ topic: 'fine', group: 'g', inFlightMax: 0 }, async () => {}),
        ConfigurationError,
      );
    },
  },
];
