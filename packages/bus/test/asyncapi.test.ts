import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type } from 'arktype';
import * as v from 'valibot';
import { z } from 'zod';
import {
  asyncApiDocument,
  ConfigurationError,
  defineCommand,
  defineEvent,
  type StandardSchemaV1,
} from '../src/index.ts';

interface Document {
  channels: Record<
    string,
    { address: string; messages: Record<string, unknown>; bindings: Record<string, unknown> }
  >;
  operations: Record<string, { action: string; messages: { $ref: string }[]; bindings?: unknown }>;
  components: {
    messages: Record<string, { payload?: { schema: Record<string, unknown> }; description?: string }>;
  };
}

/** A Standard Schema with no JSON Schema conversion. */
const opaque: StandardSchemaV1<string> = {
  '~standard': { version: 1, vendor: 'hand-written', validate: (value) => ({ value: value as string }) },
};

describe('asyncapi', { timeout: 60_000 }, () => {
  it('asyncapi - channels are topics, messages contracts, operations per service', async () => {
    const Placed = defineEvent('OrderPlaced', { topic: 'orders', schema: z.object({ orderId: z.string() }) });
    const Ship = defineCommand('ShipOrder', { schema: type({ orderId: 'string' }) });
    const options = {
      title: 'Shop',
      version: '1.0.0',
      services: [
        { name: 'order', sends: [Placed, Ship] },
        { name: 'shipping', receives: [Ship, Placed], group: 'shippers' },
      ],
    };
    const document = (await asyncApiDocument(options)) as unknown as Document;
    assert.deepEqual(Object.keys(document.channels), ['commands.ShipOrder', 'orders']);
    assert.deepEqual(Object.keys(document.operations), [
      'order.send.commands.ShipOrder',
      'order.send.orders',
      'shipping.receive.commands.ShipOrder',
      'shipping.receive.orders',
    ]);
    assert.deepEqual(document.components.messages.OrderPlaced?.payload?.schema.required, ['orderId']);
    assert.deepEqual(document.components.messages.ShipOrder?.payload?.schema.required, ['orderId']);
    assert.deepEqual(document.operations['shipping.receive.orders']?.bindings, {
      kafka: { groupId: { type: 'string', enum: ['shippers'] }, bindingVersion: '0.5.0' },
      amqp: { ack: true, bindingVersion: '0.3.0' },
    });
    // The same code gives the same bytes: the committed copy can be compared.
    assert.equal(JSON.stringify(await asyncApiDocument(options)), JSON.stringify(document));
  });

  it('asyncapi - a schema that cannot be converted gets a note instead of a payload', async () => {
    const Opaque = defineEvent('Opaque', { topic: 'misc', schema: opaque });
    const Valibot = defineEvent('ValibotEvent', { topic: 'misc', schema: v.object({ id: v.string() }) });
    const document = (await asyncApiDocument({
      title: 'Notes',
      version: '1',
      services: [{ name: 'misc', sends: [Opaque, Valibot] }],
    })) as unknown as Document;
    const opaqueMessage = document.components.messages.Opaque!;
    assert.equal(opaqueMessage.payload, undefined);
    assert.match(opaqueMessage.description ?? '', /hand-written schema has no JSON Schema conversion/);
    // valibot converts only through @valibot/to-json-schema, which this repository does not install.
    assert.match(
      document.components.messages.ValibotEvent?.description ?? '',
      /install @valibot\/to-json-schema/,
    );
  });

  it('asyncapi - two contracts with one type are rejected', async () => {
    const a = defineEvent('Twice', { topic: 'a', schema: z.string() });
    const b = defineEvent('Twice', { topic: 'b', schema: z.string() });
    await assert.rejects(
      asyncApiDocument({ title: 't', version: '1', services: [{ name: 's', sends: [a], receives: [b] }] }),
      (error: unknown) =>
        error instanceof ConfigurationError && /two different contracts/.test(error.message),
    );
  });
});
