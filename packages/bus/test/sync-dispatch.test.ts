/**
 * A handler that finishes synchronously is handled within the transport's delivery call: no
 * deadline, no promise per step, its ack called before the call returns. Failures, timeouts and
 * dead-lettering stay what they are for a handler that returns a promise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLED } from '../src/delivered-message.ts';
import {
  createBus,
  DEAD_LETTER_HEADERS,
  type Envelope,
  encodeEnvelope,
  type MessageHandler,
  type ReceivedMessage,
  silentLogger,
  TimeoutError,
  type Transport,
  type TransportMessage,
  uuidv7,
} from '../src/index.ts';
import { OrderCreated } from './fixtures.ts';

/** A transport whose deliveries the test makes itself, by calling the bus's handler. */
function directTransport() {
  let handler: MessageHandler | undefined;
  const published: { topic: string; messages: readonly TransportMessage[] }[] = [];
  const transport: Transport = {
    name: 'direct',
    features: {
      consumerGroups: true,
      persistent: false,
      replaysToNewGroups: false,
      orderedPerKey: true,
      exactlyOnce: false,
      messageBytesMax: 1024 * 1024,
    },
    publish: async (topic, messages) => {
      published.push({ topic, messages });
    },
    subscribe: async (_options, subscriber) => {
      handler = subscriber;
      return { close: async () => {} };
    },
    close: async () => {},
  };
  return {
    transport,
    published,
    deliver(message: ReceivedMessage): Promise<void> {
      assert.ok(handler !== undefined, 'the bus subscribed');
      return handler(message);
    },
  };
}

/** An OrderCreated delivery whose ack and nack are recorded in `calls`. */
function delivery(data: unknown, calls: string[], attempt = 1): ReceivedMessage {
  const envelope: Envelope = {
    specversion: '1.0',
    id: uuidv7(),
    source: '/test',
    type: OrderCreated.type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    dataversion: 1,
    extensions: {},
    data,
  };
  return {
    ...encodeEnvelope(envelope),
    topic: OrderCreated.topic,
    partition: 0,
    offset: '7',
    deliveryAttempt: attempt,
    timestampMs: Date.now(),
    ack: async () => {
      calls.push('ack');
    },
    nack: async (options) => {
      calls.push(`nack ${options?.delayMs}`);
    },
  };
}

/** A bus over `transport` that logs nothing and announces nothing. */
function quietBus(transport: Transport) {
  return createBus({ transport, source: '/test', logger: silentLogger, announce: false });
}

const order = { orderId: 'o-1', total: 5 };
const fastRetry = { attempts: 2, delayMsInitial: 1, delayMsMax: 1, jitter: 0 };

describe('bus - a handler that finishes synchronously', { timeout: 60_000 }, () => {
  it('is acked before the delivery call returns, and counted in flight while it runs', async () => {
    const direct = directTransport();
    const bus = quietBus(direct.transport);
    const seen: number[] = [];
    bus.on(OrderCreated, { group: 'g' }, () => {
      seen.push(bus.health().subscriptions[0]!.inFlight);
    });
    await bus.start();
    try {
      const calls: string[] = [];
      const done = direct.deliver(delivery(order, calls));
      // Before any await: the run, its ack and its bookkeeping are done.
      assert.deepEqual(calls, ['ack']);
      assert.deepEqual(seen, [1]);
      assert.equal(bus.health().subscriptions[0]!.inFlight, 0);
      assert.equal(bus.stats().handled, 1);
      // The shared fulfilled promise, to which the delivery window attaches no reaction.
      assert.equal(done, HANDLED);
      await done;
    } finally {
      await bus.stop();
    }
  });

  it('that throws is a failed attempt like a rejection: retried, then dead-lettered', async () => {
    const direct = directTransport();
    const bus = quietBus(direct.transport);
    bus.on(OrderCreated, { group: 'g', retry: fastRetry }, () => {
      throw new Error('boom');
    });
    await bus.start();
    try {
      const calls: string[] = [];
      await direct.deliver(delivery(order, calls, 1));
      assert.deepEqual(calls, ['nack 1']);
      await direct.deliver(delivery(order, calls, 2));
      assert.deepEqual(calls, ['nack 1', 'ack']);
      assert.equal(direct.published.length, 1);
      assert.equal(
        direct.published[0]!.messages[0]!.headers[DEAD_LETTER_HEADERS.reason],
        'retries-exhausted',
      );
      assert.equal(bus.stats().failed, 2);
    } finally {
      await bus.stop();
    }
  });

  it('an invalid payload is dead-lettered as invalid, with no handler run', async () => {
    const direct = directTransport();
    const bus = quietBus(direct.transport);
    let runs = 0;
    bus.on(OrderCreated, { group: 'g' }, () => {
      runs += 1;
    });
    await bus.start();
    try {
      const calls: string[] = [];
      await direct.deliver(delivery({ orderId: '', total: -1 }, calls));
      assert.deepEqual(calls, ['ack']);
      assert.equal(runs, 0);
      assert.equal(direct.published[0]!.messages[0]!.headers[DEAD_LETTER_HEADERS.reason], 'invalid');
    } finally {
      await bus.stop();
    }
  });
});

describe('bus - a handler that returns a thenable', { timeout: 60_000 }, () => {
  it('is acked once its thenable resolves, not before', async () => {
    const direct = directTransport();
    const bus = quietBus(direct.transport);
    let finish: () => void = () => {};
    // Not a Promise: any thenable is awaited, as `await` would (typed as one for the handler).
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable that is no Promise is what this tests.
      then(resolve: () => void) {
        finish = resolve;
      },
    };
    bus.on(OrderCreated, { group: 'g' }, () => thenable as unknown as Promise<void>);
    await bus.start();
    try {
      const calls: string[] = [];
      const done = direct.deliver(delivery(order, calls));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(calls, []);
      finish();
      await done;
      assert.deepEqual(calls, ['ack']);
    } finally {
      await bus.stop();
    }
  });

  it('is in flight until it settles; stop() waits for it; a failing ack is logged, not thrown', async () => {
    const direct = directTransport();
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (_fields: unknown, message: string) => errors.push(message) };
    const bus = createBus({ transport: direct.transport, source: '/test', logger, announce: false });
    let finish: () => void = () => {};
    bus.on(OrderCreated, { group: 'g' }, () => new Promise<void>((resolve) => (finish = resolve)));
    await bus.start();
    const calls: string[] = [];
    const message = delivery(order, calls);
    const done = direct.deliver({
      ...message,
      ack: async () => {
        calls.push('ack');
        throw new Error('ack lost');
      },
    });
    assert.equal(bus.health().subscriptions[0]!.inFlight, 1);
    let stopped = false;
    const stopping = bus.stop({ timeoutMs: 5_000 }).then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false);
    finish();
    await done;
    await stopping;
    assert.deepEqual(calls, ['ack']);
    assert.equal(bus.health().subscriptions[0]!.inFlight, 0);
    assert.deepEqual(errors, ['dispatcher failed to settle a message; it will be redelivered']);
  });

  it('whose ack or nack throws at once: logged, the delivery resolves, nothing left in flight', async () => {
    const direct = directTransport();
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (_fields: unknown, message: string) => errors.push(message) };
    const bus = createBus({ transport: direct.transport, source: '/test', logger, announce: false });
    let fail = false;
    bus.on(OrderCreated, { group: 'g', retry: fastRetry }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      if (fail) throw new Error('handler failed');
    });
    await bus.start();
    try {
      const throwing = (calls: string[]): ReceivedMessage => ({
        ...delivery(order, calls),
        ack: () => {
          calls.push('ack');
          throw new Error('ack refused');
        },
        nack: () => {
          calls.push('nack');
          throw new Error('nack refused');
        },
      });
      const calls: string[] = [];
      // Resolves (a rejection here would fail the test): the settle failure is logged instead.
      await direct.deliver(throwing(calls));
      fail = true;
      await direct.deliver(throwing(calls));
      assert.deepEqual(calls, ['ack', 'nack']);
      assert.deepEqual(errors, [
        'dispatcher failed to settle a message; it will be redelivered',
        'dispatcher failed to settle a message; it will be redelivered',
      ]);
      assert.equal(bus.health().subscriptions[0]!.inFlight, 0);
    } finally {
      await bus.stop();
    }
  });

  it('that settles after its timeout: the timeout decided (one nack), its late end ignored', async () => {
    const direct = directTransport();
    const bus = quietBus(direct.transport);
    let finish: () => void = () => {};
    bus.on(
      OrderCreated,
      { group: 'g', timeoutMs: 30, retry: fastRetry },
      () => new Promise<void>((resolve) => (finish = resolve)),
    );
    await bus.start();
    try {
      const calls: string[] = [];
      await direct.deliver(delivery(order, calls));
      assert.deepEqual(calls, ['nack 1']);
      assert.equal(bus.health().subscriptions[0]!.inFlight, 0);
      finish();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(calls, ['nack 1']);
      assert.equal(bus.stats().failed, 1);
      assert.equal(bus.stats().handled, 0);
    } finally {
      await bus.stop();
    }
  });

  it('that never settles still times out: its signal aborted, the attempt retried', async () => {
    const direct = directTransport();
    const bus = quietBus(direct.transport);
    let signal: AbortSignal | undefined;
    bus.on(OrderCreated, { group: 'g', timeoutMs: 50, retry: fastRetry }, (_data, context) => {
      signal = context.signal;
      return new Promise<void>(() => {});
    });
    await bus.start();
    try {
      const calls: string[] = [];
      await direct.deliver(delivery(order, calls));
      assert.deepEqual(calls, ['nack 1']);
      assert.ok(signal?.aborted);
      assert.ok(signal.reason instanceof TimeoutError);
    } finally {
      await bus.stop();
    }
  });
});
