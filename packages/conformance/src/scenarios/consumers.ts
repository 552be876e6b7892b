/**
 * Safe consumers, end to end through a bus on the transport: idempotency, per-key order under
 * concurrency, retries with backoff, dead letters with every header, redrive, drain.
 */
import assert from 'node:assert/strict';
import {
  createBus,
  DEAD_LETTER_HEADERS,
  defineEvent,
  encodeEnvelope,
  memoryIdempotencyStore,
  type ReceivedMessage,
  replaysToNewGroup,
  type StandardSchemaV1,
  silentLogger,
  type Transport,
  type TransportFeatures,
  UnrecoverableError,
  uuidv7,
} from '@herald/bus';
import { eventually, quiet, until } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

/** A tiny Standard Schema, so the suite needs no validator library. */
function objectSchema<T>(check: (value: Record<string, unknown>) => boolean): StandardSchemaV1<T, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'conformance',
      validate: (value: unknown) =>
        typeof value === 'object' && value !== null && check(value as Record<string, unknown>)
          ? { value: value as T }
          : { issues: [{ message: 'unexpected shape' }] },
    },
  };
}

interface Step {
  readonly key: string;
  readonly sequence: number;
}

function stepEvent(topic: string) {
  return defineEvent('ConformanceStep', {
    topic,
    schema: objectSchema<Step>(
      (value) => typeof value.key === 'string' && typeof value.sequence === 'number',
    ),
    key: (step) => step.key,
  });
}

const needsOrder = (features: { orderedPerKey: boolean }) =>
  features.orderedPerKey ? undefined : 'transport does not declare orderedPerKey';
const needsReplay = (features: TransportFeatures) =>
  replaysToNewGroup(features, 'any.dlq')
    ? undefined
    : 'transport does not replay dead-letter topics to new groups, which bus.deadLetters needs';

async function readAll(transport: Transport, topic: string): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  await transport.subscribe({ topic, group: `reader-${uuidv7()}`, inFlightMax: 16 }, async (message) => {
    received.push(message);
    await message.ack();
  });
  return received;
}

export const consumerScenarios: Scenario[] = [
  {
    name: 'consumers - a duplicate delivery is applied once with an idempotency store',
    async run({ transport, topic }) {
      const Step = stepEvent(topic);
      const bus = createBus({ transport, logger: silentLogger, idempotency: memoryIdempotencyStore() });
      const applied: number[] = [];
      bus.on(Step, { group: 'ledger' }, (step) => {
        applied.push(step.sequence);
      });
      await bus.start();
      // A group of its own below the bus, with no store, sees what the broker really delivers.
      const raw = await readAll(transport, topic);
      const envelope = await bus.publish(Step, { key: 'k', sequence: 1 });
      await transport.publish(topic, [encodeEnvelope(envelope)]); // The same message again.
      const last = await bus.publish(Step, { key: 'k', sequence: 2 });
      const firstDeliveries = (id: string) =>
        raw.filter((message) => message.headers.ce_id === id && message.deliveryAttempt === 1).length;
      await eventually(
        () => applied.includes(2) && firstDeliveries(last.id) === 1,
        () => `sequence 2 applied and read (applied: ${applied.join(',')}; read ${raw.length})`,
      );
      // A copy is a message of its own (first delivery, attempt 1); a late one has this window to show.
      await quiet(() => raw.length, 'the raw reader');
      assert.deepEqual(applied, [1, 2]);
      const dropsCopies = transport.features.publishDeduplication !== undefined;
      // A broker that deduplicates publishes by id drops the copy itself: it is never delivered, so
      // the store has nothing to skip. Otherwise both arrive and the store skips the second.
      assert.equal(
        firstDeliveries(envelope.id),
        dropsCopies ? 1 : 2,
        `deliveries of the re-published message ${dropsCopies ? '(publishDeduplication is declared: the copy must not be delivered)' : '(no publishDeduplication declared: both must be delivered)'}`,
      );
      assert.equal(bus.stats().duplicatesSkipped, dropsCopies ? 0 : 1);
      await bus.stop();
    },
  },
  {
    name: 'consumers - concurrency 8 keeps per-key order with random delays while keys run in parallel',
    skip: needsOrder,
    async run({ transport, topic }) {
      const Step = stepEvent(topic);
      const bus = createBus({ transport, logger: silentLogger });
      const order = new Map<string, number[]>();
      let running = 0;
      let mostRunning = 0;
      bus.on(Step, { group: 'parallel', concurrency: 8 }, async (step) => {
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));
        order.set(step.key, [...(order.get(step.key) ?? []), step.sequence]);
        running -= 1;
      });
      await bus.start();
      const keys = 8;
      const perKey = 20;
      for (let sequence = 0; sequence < perKey; sequence++) {
        await Promise.all(
          Array.from({ length: keys }, (_, key) => bus.publish(Step, { key: `key-${key}`, sequence })),
        );
      }
      const total = () => [...order.values()].reduce((sum, list) => sum + list.length, 0);
      await eventually(
        () => total() === keys * perKey,
        () => `${keys * perKey} steps (have ${total()})`,
      );
      for (const [key, sequences] of order) {
        assert.deepEqual(
          sequences,
          Array.from({ length: perKey }, (_, index) => index),
          `order of ${key}`,
        );
      }
      assert.ok(mostRunning >= 2, `handlers never ran in parallel (at most ${mostRunning} at once)`);
      await bus.stop();
    },
  },
  {
    name: 'consumers - retries honour the attempt count and backoff, then dead-letter with every header',
    async run({ transport, topic }) {
      const Step = stepEvent(topic);
      const retry = { attempts: 3, delayMsInitial: 40, multiplier: 2, delayMsMax: 1000, jitter: 0 };
      const bus = createBus({ transport, logger: silentLogger, retry });
      const attemptsAtMs: number[] = [];
      bus.on(Step, { group: 'flaky' }, () => {
        attemptsAtMs.push(performance.now());
        throw new Error('always failing');
      });
      await bus.start();
      const deadLetters = await readAll(transport, `${topic}.dlq`);
      const envelope = await bus.publish(Step, { key: 'k', sequence: 7 });
      await eventually(
        () => deadLetters.length === 1,
        () => 'one dead letter',
      );
      assert.equal(attemptsAtMs.length, 3, `attempts: ${attemptsAtMs.length}`);
      const gaps = [attemptsAtMs[1]! - attemptsAtMs[0]!, attemptsAtMs[2]! - attemptsAtMs[1]!];
      assert.ok(
        gaps[0]! >= 35 && gaps[1]! >= 75,
        `backoff gaps ${gaps.map((gap) => gap.toFixed(0)).join(', ')} ms`,
      );
      const headers = deadLetters[0]!.headers;
      for (const name of Object.values(DEAD_LETTER_HEADERS)) {
        if (name === DEAD_LETTER_HEADERS.key) continue;
        assert.ok(headers[name] !== undefined, `dead letter lacks ${name}`);
      }
      assert.equal(headers[DEAD_LETTER_HEADERS.key], 'k');
      assert.equal(headers[DEAD_LETTER_HEADERS.topic], topic);
      assert.equal(headers[DEAD_LETTER_HEADERS.group], 'flaky');
      assert.equal(headers[DEAD_LETTER_HEADERS.reason], 'retries-exhausted');
      assert.equal(headers[DEAD_LETTER_HEADERS.attempts], '3');
      assert.equal(headers[DEAD_LETTER_HEADERS.errorMessage], 'always failing');
      assert.ok(headers[DEAD_LETTER_HEADERS.firstFailedAt]! <= headers[DEAD_LETTER_HEADERS.lastFailedAt]!);
      assert.equal(headers.ce_id, envelope.id, 'the original CloudEvents id is kept');
      await bus.stop();
    },
  },
  {
    name: 'consumers - redrive brings a dead letter back once, to the group that failed it',
    skip: needsReplay,
    async run({ transport, topic }) {
      const Step = stepEvent(topic);
      const bus = createBus({ transport, logger: silentLogger });
      let healthy = false;
      const handled: string[] = [];
      const other: string[] = [];
      bus.on(Step, { group: 'fragile' }, (_step, context) => {
        if (!healthy) throw new UnrecoverableError('rejected until fixed');
        handled.push(context.envelope.id);
      });
      bus.on(Step, { group: 'bystander' }, (_step, context) => {
        other.push(context.envelope.id);
      });
      await bus.start();
      const envelope = await bus.publish(Step, { key: 'k', sequence: 1 });
      const listed = await until(
        () => bus.deadLetters.list({ topic }),
        (letters) => letters.length === 1,
        'one dead letter listed',
      );
      assert.equal(listed[0]!.group, 'fragile');
      assert.equal(listed[0]!.envelope?.id, envelope.id);
      healthy = true;
      assert.deepEqual(await bus.deadLetters.redrive({ topic, group: 'fragile' }), { redriven: 1 });
      await eventually(
        () => handled.length === 1,
        () => 'the redriven message handled',
      );
      assert.deepEqual(handled, [envelope.id], 'redrive kept the CloudEvents id');
      assert.deepEqual(
        await bus.deadLetters.redrive({ topic }),
        { redriven: 0 },
        'a second redrive found work',
      );
      assert.deepEqual(await bus.deadLetters.list({ topic }), []);
      // A marker on the same key proves the bystander group is past the redriven copy.
      await bus.publish(Step, { key: 'k', sequence: 2 });
      await eventually(
        () => other.length === 2,
        () => `bystander got both events (has ${other.length})`,
      );
      assert.equal(new Set(other).size, 2, 'the bystander group processed the redriven copy');
      await bus.stop();
    },
  },
  {
    name: 'consumers - stop() lets a running handler finish before closing',
    async run({ transport, topic }) {
      const Step = stepEvent(topic);
      const bus = createBus({ transport, logger: silentLogger });
      const started = Promise.withResolvers<void>();
      let finished = false;
      bus.on(Step, { group: 'slow' }, async () => {
        started.resolve();
        await new Promise((resolve) => setTimeout(resolve, 150));
        finished = true;
      });
      await bus.start();
      await bus.publish(Step, { key: 'k', sequence: 1 });
      await started.promise;
      await bus.stop({ timeoutMs: 5000 });
      assert.ok(finished, 'stop() resolved before the running handler finished');
    },
  },
];
