import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertTopicPattern,
  ConfigurationError,
  createBus,
  defineEvent,
  isTopicPattern,
  matchesTopicPattern,
  memoryTransport,
} from '../src/index.ts';

describe('topic patterns', { timeout: 60_000 }, () => {
  it('topic patterns - * matches one word, a final > one or more, literals match themselves', () => {
    assert.equal(matchesTopicPattern('orders.*', 'orders.eu'), true);
    assert.equal(matchesTopicPattern('orders.*', 'orders'), false);
    assert.equal(matchesTopicPattern('orders.*', 'orders.eu.late'), false);
    assert.equal(matchesTopicPattern('orders.>', 'orders.eu.late'), true);
    assert.equal(matchesTopicPattern('orders.>', 'orders'), false);
    assert.equal(matchesTopicPattern('*.created', 'user-events.created'), true);
    assert.equal(matchesTopicPattern('a-b.*', 'aXb.c'), false);
    assert.equal(matchesTopicPattern('orders.*', 'ordersX.eu'), false);
  });

  it('topic patterns - a pattern is told from a topic; malformed patterns are refused', () => {
    assert.equal(isTopicPattern('orders.*'), true);
    assert.equal(isTopicPattern('orders.eu'), false);
    assertTopicPattern('tenant.*.orders.>', 'test');
    for (const bad of ['orders.>.eu', 'orders.e*', 'orders..*', 'orders', 'or ders.*', '']) {
      assert.throws(() => assertTopicPattern(bad, 'test'), ConfigurationError, bad);
    }
  });

  it('topic patterns - bus.on refuses a pattern the transport does not declare', () => {
    const transport = memoryTransport();
    const limited = {
      ...transport,
      name: 'limited',
      features: { ...transport.features, topicPatterns: undefined },
    };
    const Tick = defineEvent('Tick', {
      topic: 'ticks',
      schema: { '~standard': { version: 1, vendor: 't', validate: (value) => ({ value }) } },
    });
    const bus = createBus({ transport: limited, ownsTransport: false });
    assert.throws(
      () => bus.on(Tick, { group: 'g', topicPattern: 'ticks.*' }, () => undefined),
      (error: unknown) =>
        error instanceof ConfigurationError &&
        /limited transport cannot subscribe to the topic pattern/.test(error.message),
    );
    assert.throws(
      () => bus.on(Tick, { group: 'g', topicPattern: 'ticks' }, () => undefined),
      ConfigurationError,
    );
  });
});
