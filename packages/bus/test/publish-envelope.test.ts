import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { z } from 'zod';
import {
  createBus,
  defineEvent,
  type Envelope,
  encodeEnvelope,
  memoryTransport,
  type Transport,
  type TransportMessage,
  ValidationError,
} from '../src/index.ts';

const Shipped = defineEvent('PublishEnvelopeShipped', {
  topic: 'publish-envelope-shipped',
  schema: z.object({ orderId: z.string() }),
  key: (event) => event.orderId,
});

/** A bus whose transport keeps what is published instead of sending it. */
async function recordingBus() {
  const inner = memoryTransport();
  const published: TransportMessage[] = [];
  const transport: Transport = Object.create(inner);
  transport.publish = async (_topic, messages) => {
    published.push(...messages);
  };
  transport.close = () => inner.close();
  const bus = createBus({ transport, source: '/publish-envelope', announce: false });
  await bus.start();
  return { bus, published };
}

/** The millisecond a UUIDv7 carries in its first 48 bits. */
const idMs = (id: string) => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

describe('bus publish - the envelope it builds', { timeout: 120_000 }, () => {
  it("one clock read per publish: the event's time is the millisecond its id carries", async () => {
    const { bus, published } = await recordingBus();
    // A clock that moves on every read: ids and times from separate reads would differ.
    let nowMs = Date.now() + 60_000;
    const clock = mock.method(Date, 'now', () => nowMs++);
    try {
      for (let n = 0; n < 5; n++) {
        const envelope = await bus.publish(Shipped, { orderId: `o-${n}` });
        assert.equal(Date.parse(envelope.time), idMs(envelope.id));
      }
    } finally {
      clock.mock.restore();
      await bus.stop();
    }
    assert.equal(published.length, 5);
  });

  it("a payload failing its schema still rejects with a ValidationError naming the contract's type", async () => {
    const { bus, published } = await recordingBus();
    try {
      await assert.rejects(
        bus.publish(Shipped, { orderId: 7 } as unknown as { orderId: string }),
        (error: unknown) =>
          error instanceof ValidationError && error.message.includes('"PublishEnvelopeShipped" payload'),
      );
      assert.equal(published.length, 0);
    } finally {
      await bus.stop();
    }
  });

  it('headers come in one order: content-type, extensions, then the attributes in CloudEvents order', () => {
    const base: Envelope = {
      specversion: '1.0',
      id: 'id-1',
      source: '/s',
      type: 'T',
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      partitionkey: 'k',
      correlationid: 'c',
      dataversion: 1,
      extensions: {},
      data: null,
    };
    const attributes = [
      'ce_specversion',
      'ce_id',
      'ce_source',
      'ce_type',
      'ce_time',
      'ce_partitionkey',
      'ce_correlationid',
      'ce_dataversion',
    ];
    assert.deepEqual(Object.keys(encodeEnvelope(base).headers), ['content-type', ...attributes]);
    const extended = encodeEnvelope({ ...base, extensions: { tenant: 'acme' } });
    assert.deepEqual(Object.keys(extended.headers), ['content-type', 'ce_tenant', ...attributes]);
    // A foreign envelope with a number where a string belongs still gets text headers.
    const foreign = encodeEnvelope({ ...base, id: 42 as unknown as string });
    assert.equal(foreign.headers.ce_id, '42');
    assert.deepEqual(Object.keys(foreign.headers), ['content-type', ...attributes]);
  });
});
