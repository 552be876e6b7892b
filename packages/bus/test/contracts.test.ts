import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type } from 'arktype';
import * as v from 'valibot';
import { z } from 'zod';
import { ConfigurationError, defineCommand, defineEvent, ValidationError } from '../src/index.ts';
import { createTestBus } from '../src/testing.ts';

function paths(error: unknown): string[] {
  assert.ok(error instanceof ValidationError, `expected ValidationError, got ${String(error)}`);
  assert.equal(error.code, 'HERALD_VALIDATION');
  return error.issues.map((issue) => issue.path).sort();
}

describe('contracts - validation on publish names each failing path', { timeout: 120_000 }, () => {
  const bad = { orderId: '', total: -1, items: [{ sku: 'a', quantity: 0 }] };

  it('zod 4', async () => {
    const Event = defineEvent('ZodOrder', {
      topic: 'orders',
      schema: z.object({
        orderId: z.string().min(1),
        total: z.number().positive(),
        items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })),
      }),
    });
    await using bus = createTestBus();
    const error = await bus.publish(Event, bad).catch((caught: unknown) => caught);
    assert.deepEqual(paths(error), ['items.0.quantity', 'orderId', 'total']);
    assert.match((error as Error).message, /"ZodOrder" payload failed schema validation/);
    assert.equal(bus.publishedAll(Event).length, 0, 'an invalid event was published');
  });

  it('valibot', async () => {
    const Event = defineEvent('ValibotOrder', {
      topic: 'orders',
      schema: v.object({
        orderId: v.pipe(v.string(), v.minLength(1)),
        total: v.pipe(v.number(), v.minValue(0.01)),
        items: v.array(
          v.object({ sku: v.string(), quantity: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
        ),
      }),
    });
    await using bus = createTestBus();
    const error = await bus.publish(Event, bad).catch((caught: unknown) => caught);
    assert.deepEqual(paths(error), ['items.0.quantity', 'orderId', 'total']);
  });

  it('arktype', async () => {
    const Event = defineEvent('ArkOrder', {
      topic: 'orders',
      schema: type({
        orderId: 'string > 0',
        total: 'number > 0',
        items: type({ sku: 'string', quantity: 'number.integer > 0' }).array(),
      }),
    });
    await using bus = createTestBus();
    const error = await bus.publish(Event, bad).catch((caught: unknown) => caught);
    assert.deepEqual(paths(error), ['items.0.quantity', 'orderId', 'total']);
  });

  it('the validated output (defaults, transforms) is what gets published', async () => {
    const Event = defineEvent('Defaults', {
      topic: 'orders',
      schema: z.object({ name: z.string().trim(), tags: z.array(z.string()).default([]) }),
    });
    await using bus = createTestBus();
    const envelope = await bus.publish(Event, { name: '  spaced  ' });
    assert.deepEqual(envelope.data, { name: 'spaced', tags: [] });
  });
});

describe('contracts - misconfiguration fails fast with advice', { timeout: 120_000 }, () => {
  const schema = z.object({});
  it('invalid topic name', () => {
    assert.throws(() => defineEvent('X', { topic: 'has space', schema }), /invalid topic name "has space"/);
    assert.throws(() => defineEvent('X', { topic: '', schema }), /topic name is empty/);
  });
  it('non-schema', () => {
    assert.throws(() => defineEvent('X', { topic: 't', schema: {} as never }), ConfigurationError);
  });
  it('bad version and upcasters', () => {
    assert.throws(
      () => defineEvent('X', { topic: 't', schema, version: 0 }),
      /version must be a positive integer/,
    );
    assert.throws(
      () => defineEvent('X', { topic: 't', schema, version: 2, upcasters: { 2: (data) => data } }),
      /upcaster keys must be versions 1..1/,
    );
  });
  it('command topic defaults to commands.<type>', () => {
    assert.equal(defineCommand('ShipOrder', { schema }).topic, 'commands.ShipOrder');
  });
});
