/**
 * Scheduled messages in the bus: the delivery time a publish asks for, the due queue's one timer,
 * the memory transport's scheduler, and the topic scheduler (over a memory transport that declares
 * a schedule topic, with a short hold so the re-append and step paths run in a second or two).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '@herald/test-support';
import { z } from 'zod';
import {
  type Bus,
  ConfigurationError,
  createBus,
  defineEvent,
  defineQuery,
  memoryTransport,
  ScheduleError,
  type SchedulingFeature,
  silentLogger,
  type Transport,
} from '../src/index.ts';
import { DueQueue } from '../src/internal.ts';
import { deliverAtMs } from '../src/schedule/deliver-at.ts';
import { SCHEDULE_TOPIC, SCHEDULER_GROUP } from '../src/schedule/topic-scheduler.ts';

const Reminder = defineEvent('Reminder', { topic: 'reminders', schema: z.object({ name: z.string() }) });

/** Records when each reminder arrived. */
function collect(bus: Bus): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  bus.on(Reminder, { group: 'g' }, (reminder) => {
    seen.set(reminder.name, [...(seen.get(reminder.name) ?? []), Date.now()]);
  });
  return seen;
}

describe('scheduling - delivery time', () => {
  it('scheduling - deliverAt and delayMs resolve to one time; the past means now', () => {
    assert.equal(deliverAtMs({}, 1000, 10_000), undefined);
    assert.equal(deliverAtMs({ delayMs: 500 }, 1000, 10_000), 1500);
    assert.equal(deliverAtMs({ deliverAt: new Date(4000) }, 1000, 10_000), 4000);
    assert.equal(deliverAtMs({ deliverAt: 10 }, 1000, 10_000), 1000);
    assert.equal(deliverAtMs({ delayMs: -5 }, 1000, 10_000), 1000);
  });

  it('scheduling - bad input is a ScheduleError with its reason', () => {
    const reason = (request: object) => {
      try {
        deliverAtMs(request, 1000, 10_000);
      } catch (error) {
        assert.ok(error instanceof ScheduleError);
        assert.equal(error.code, 'HERALD_SCHEDULE');
        assert.equal(error.retriable, false);
        return error.reason;
      }
      return 'accepted';
    };
    assert.equal(reason({ delayMs: Number.NaN }), 'SCHEDULE_INVALID_TIME');
    assert.equal(reason({ delayMs: Number.POSITIVE_INFINITY }), 'SCHEDULE_INVALID_TIME');
    assert.equal(reason({ deliverAt: new Date('not a date') }), 'SCHEDULE_INVALID_TIME');
    assert.equal(reason({ deliverAt: '2030-01-01' }), 'SCHEDULE_INVALID_TIME');
    assert.equal(reason({ deliverAt: 2000, delayMs: 1 }), 'SCHEDULE_OPTIONS_CONFLICT');
    assert.equal(reason({ delayMs: 10_001 }), 'SCHEDULE_BEYOND_HORIZON');
    assert.equal(reason({ delayMs: 10_000 }), 'accepted');
  });
});

describe('scheduling - due queue', { timeout: 30_000 }, () => {
  it('scheduling - entries come out in time order, removed ones never, one timer for the head', async () => {
    const out: string[] = [];
    const queue = new DueQueue<string>((due) => out.push(...due.map((entry) => entry.value)));
    try {
      const nowMs = Date.now();
      queue.add('c', nowMs + 150, 'c');
      queue.add('a', nowMs + 50, 'a');
      queue.add('b', nowMs + 100, 'b');
      queue.add('x', nowMs + 60, 'x');
      assert.equal(queue.remove('x'), 'x');
      assert.equal(queue.remove('x'), undefined);
      queue.add('b', nowMs + 120, 'b'); // replaced, not added twice
      assert.equal(queue.size, 3);
      await eventually(
        () => out.length === 3,
        () => `three entries out, got ${out.join(',')}`,
      );
      assert.deepEqual(out, ['a', 'b', 'c']);
      assert.equal(queue.size, 0);
    } finally {
      queue.close();
    }
  });
});

describe('scheduling - memory transport', { timeout: 30_000 }, () => {
  it('scheduling - a message arrives at its time; a cancelled one never; cancelling twice says not-pending', async () => {
    await using bus = createBus({ transport: memoryTransport(), logger: silentLogger });
    const seen = collect(bus);
    await bus.start();
    const startMs = Date.now();
    const gone = await bus.publish(Reminder, { name: 'gone' }, { delayMs: 100 });
    await bus.publish(Reminder, { name: 'kept' }, { delayMs: 300 });
    assert.equal(await bus.cancelScheduled(gone.id), 'cancelled');
    assert.equal(await bus.cancelScheduled(gone.id), 'not-pending');
    await eventually(() => seen.has('kept'), 'the kept reminder');
    assert.ok(seen.get('kept')![0]! >= startMs + 300);
    assert.equal(seen.has('gone'), false);
  });

  it('scheduling - a handler schedules a follow-up with its own id and cancels it later', async () => {
    await using bus = createBus({ transport: memoryTransport(), logger: silentLogger });
    const Start = defineEvent('Start', { topic: 'starts', schema: z.object({ name: z.string() }) });
    const seen = collect(bus);
    bus.on(Start, { group: 'saga' }, async (start, context) => {
      await context.publish(
        Reminder,
        { name: `timeout-${start.name}` },
        { delayMs: 200, id: `timeout-${start.name}` },
      );
      if (start.name === 'finished')
        assert.equal(await bus.cancelScheduled(`timeout-${start.name}`), 'cancelled');
    });
    await bus.start();
    await bus.publish(Start, { name: 'finished' });
    await bus.publish(Start, { name: 'stuck' });
    await eventually(() => seen.has('timeout-stuck'), 'the timeout of the stuck flow');
    assert.equal(seen.has('timeout-finished'), false);
  });

  it('scheduling - a full schedule refuses with SCHEDULE_FULL (retriable); queries cannot be scheduled', async () => {
    await using bus = createBus({ transport: memoryTransport({ scheduledMax: 1 }), logger: silentLogger });
    await bus.publish(Reminder, { name: 'one' }, { delayMs: 60_000 });
    await assert.rejects(bus.publish(Reminder, { name: 'two' }, { delayMs: 60_000 }), (error: unknown) => {
      assert.ok(error instanceof ScheduleError);
      assert.equal(error.reason, 'SCHEDULE_FULL');
      assert.equal(error.retriable, true);
      return true;
    });
    const Ask = defineQuery('Ask', { schema: z.object({}), result: z.object({}) });
    await assert.rejects(bus.request(Ask, {}, { delayMs: 10 }), ConfigurationError);
  });

  it('scheduling - a transport that declares no scheduling refuses with SCHEDULE_UNSUPPORTED', async () => {
    const inner = memoryTransport();
    const plain: Transport = {
      name: 'plain',
      features: { ...inner.features, scheduling: { mode: 'unsupported', reason: 'no timers here' } },
      publish: (topic, messages) => inner.publish(topic, messages),
      subscribe: (options, handler) => inner.subscribe(options, handler),
      close: () => inner.close(),
    };
    await using bus = createBus({ transport: plain, logger: silentLogger });
    await assert.rejects(bus.publish(Reminder, { name: 'x' }, { delayMs: 10 }), /no timers here/);
    await assert.rejects(bus.cancelScheduled('some-id'), {
      name: 'ScheduleError',
      reason: 'SCHEDULE_UNSUPPORTED',
    });
    // Without a time it publishes as ever.
    await bus.publish(Reminder, { name: 'now' });
  });
});

/** A memory transport whose schedule lives in a schedule topic, run by the bus. */
function scheduleTopicTransport(scheduling: SchedulingFeature): Transport {
  const inner = memoryTransport();
  return {
    name: 'memory-schedule-topic',
    features: { ...inner.features, scheduling },
    publish: (topic, messages) => inner.publish(topic, messages),
    subscribe: (options, handler) => inner.subscribe(options, handler),
    close: () => inner.close(),
  };
}

describe('scheduling - schedule topic', { timeout: 60_000 }, () => {
  for (const [name, scheduling] of [
    [
      'entries re-appended after one hold (Kafka)',
      { mode: 'schedule-topic', guarantee: 'test', horizonMsMax: 60_000, nackHoldMsMax: 200 },
    ],
    [
      'entries waiting in delay steps (RabbitMQ)',
      {
        mode: 'schedule-topic',
        guarantee: 'test',
        horizonMsMax: 60_000,
        nackHoldMsMax: 99,
        nackDelayStepsMs: [100, 500],
      },
    ],
  ] as const) {
    it(`scheduling - ${name}: arrive once, not early; a cancelled one never`, async () => {
      const transport = scheduleTopicTransport(scheduling);
      const entries: string[] = [];
      await transport.subscribe({ topic: SCHEDULE_TOPIC, group: 'spy', inFlightMax: 64 }, async (message) => {
        entries.push(message.headers.ce_id ?? `cancel:${message.headers.herald_schedule_cancel}`);
        await message.ack();
      });
      await using bus = createBus({ transport, logger: silentLogger });
      const seen = collect(bus);
      await bus.start();
      const startMs = Date.now();
      const gone = await bus.publish(Reminder, { name: 'gone' }, { delayMs: 700 });
      const kept = await bus.publish(Reminder, { name: 'kept' }, { deliverAt: startMs + 1200 });
      assert.equal(await bus.cancelScheduled(gone.id), 'requested');
      await eventually(() => seen.has('kept'), 'the kept reminder');
      assert.ok(seen.get('kept')![0]! >= startMs + 1200, 'arrived early');
      assert.equal(seen.get('kept')!.length, 1);
      assert.equal(seen.has('gone'), false, 'the cancelled reminder arrived');
      if (scheduling.nackDelayStepsMs === undefined) {
        // Held 200 ms at a time, then appended again: the entry passed through the topic repeatedly.
        assert.ok(entries.filter((id) => id === kept.id).length >= 2, `entries seen: ${entries.join(', ')}`);
      }
    });
  }
});

/** A schedule-topic transport that counts the open subscriptions of the schedulers' group. */
function countingTransport(failStarts = 0) {
  const transport = scheduleTopicTransport({
    mode: 'schedule-topic',
    guarantee: 'test',
    horizonMsMax: 60_000,
    nackHoldMsMax: 200,
  });
  const counts = { open: 0, opened: 0, failStarts };
  const subscribe = transport.subscribe;
  transport.subscribe = async (options, handler) => {
    if (options.group !== SCHEDULER_GROUP) return subscribe(options, handler);
    if (counts.failStarts > 0) {
      counts.failStarts -= 1;
      throw new Error('broker unavailable');
    }
    const subscription = await subscribe(options, handler);
    counts.open += 1;
    counts.opened += 1;
    return {
      close: async (closeOptions) => {
        counts.open -= 1;
        await subscription.close(closeOptions);
      },
    };
  };
  return { transport, counts };
}

describe('scheduling - one scheduler per transport', { timeout: 60_000 }, () => {
  it('scheduling - buses sharing a transport run one scheduler, from the first start to the last stop', async () => {
    const { transport, counts } = countingTransport();
    try {
      const buses = [1, 2, 3].map(() => createBus({ transport, ownsTransport: false, logger: silentLogger }));
      const optedOut = createBus({
        transport,
        ownsTransport: false,
        logger: silentLogger,
        runScheduler: false,
      });
      const seen = collect(buses[0]!);
      await Promise.all([...buses, optedOut].map((bus) => bus.start()));
      assert.deepEqual(counts, { open: 1, opened: 1, failStarts: 0 }, 'one member, started once');
      await buses[1]!.stop();
      await optedOut.stop();
      assert.equal(counts.open, 1, 'held while another bus runs');
      // Scheduled by a bus that stopped holding it, published by the one scheduler still running.
      await buses[2]!.publish(Reminder, { name: 'due' }, { delayMs: 50 });
      await eventually(() => seen.has('due'), 'the scheduled reminder');
      await Promise.all([buses[0]!.stop(), buses[2]!.stop()]);
      assert.equal(counts.open, 0, 'the last bus to stop stops it');
      const late = createBus({ transport, ownsTransport: false, logger: silentLogger });
      await late.start();
      assert.deepEqual([counts.open, counts.opened], [1, 2], 'a later bus starts it again');
      await late.stop();
      assert.equal(counts.open, 0);
    } finally {
      await transport.close();
    }
  });

  it('scheduling - a failed scheduler start fails that bus, and the next bus starts it', async () => {
    const { transport, counts } = countingTransport(1);
    try {
      const first = createBus({ transport, ownsTransport: false, logger: silentLogger });
      await assert.rejects(first.start(), /broker unavailable/);
      assert.equal(counts.open, 0);
      const second = createBus({ transport, ownsTransport: false, logger: silentLogger });
      await second.start();
      assert.equal(counts.open, 1);
      await second.stop();
      assert.equal(counts.open, 0, 'the failed bus holds nothing');
    } finally {
      await transport.close();
    }
  });
});
