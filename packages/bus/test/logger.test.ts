/**
 * Loggers plug in without losing fields: a real pino logger and `console` are Herald `Logger`s as
 * they are, pino receives every field Herald logs through a publish, a handled message, a retry
 * and a dead letter, and the default logger writes JSON lines off a terminal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually } from '@herald/test-support';
import { pino } from 'pino';
import { z } from 'zod';
import {
  consoleLogger,
  createBus,
  defineEvent,
  type LogFields,
  type Logger,
  memoryTransport,
} from '../src/index.ts';

const Paid = defineEvent('test.logger.paid', {
  topic: 'test.logger.payments',
  schema: z.object({ orderId: z.string() }),
  key: (payment) => payment.orderId,
});

// Type tests (checked by `npm run typecheck`): pino and console are Loggers as they are…
export const pinoIsALogger: Logger = pino();
export const consoleIsALogger: Logger = console;
// …and a logger written for the other order, which would drop every field, does not compile.
export const oldOrder: Logger = {
  // @ts-expect-error (message, fields) is not Herald's (fields, message)
  debug: (message: string, fields?: LogFields) => void [message, fields],
  // @ts-expect-error (message, fields) is not Herald's (fields, message)
  info: (message: string, fields?: LogFields) => void [message, fields],
  // @ts-expect-error (message, fields) is not Herald's (fields, message)
  warn: (message: string, fields?: LogFields) => void [message, fields],
  // @ts-expect-error (message, fields) is not Herald's (fields, message)
  error: (message: string, fields?: LogFields) => void [message, fields],
};

interface Entry {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/**
 * Publishes three payments: `ok` is handled, `flaky` fails once and is retried, `bad` fails until
 * it is dead-lettered (2 attempts). Resolves once all three are settled.
 */
async function scenario(logger: Logger, isSettled: () => boolean): Promise<void> {
  const bus = createBus({
    transport: memoryTransport(),
    source: '/test/logger',
    logger,
    retry: { attempts: 2, delayMsInitial: 1, delayMsMax: 5, jitter: 0 },
  });
  try {
    bus.on(Paid, { group: 'ledger' }, (payment, context) => {
      if (payment.orderId === 'bad') throw new Error('card declined');
      if (payment.orderId === 'flaky' && context.attempt === 1) throw new Error('gateway timeout');
    });
    await bus.start();
    for (const orderId of ['ok', 'flaky', 'bad']) await bus.publish(Paid, { orderId });
    await eventually(isSettled, 'three payments handled, retried and dead-lettered');
  } finally {
    await bus.stop();
  }
}

/** Herald's own entries, recorded as they were passed. */
function recordingLogger(entries: Entry[]): Logger {
  const at = (level: string) => (fields: LogFields, message: string) => {
    entries.push({ level, message, fields: { ...fields } });
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const settled = (messages: readonly string[]) =>
  messages.filter((message) => message === 'handled').length === 2 &&
  messages.includes('message dead-lettered');

describe('logger', { timeout: 60_000 }, () => {
  it('a pino logger receives every field Herald logs, at its level', async () => {
    const recorded: Entry[] = [];
    await scenario(recordingLogger(recorded), () => settled(recorded.map((entry) => entry.message)));

    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug', base: null },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    await scenario(logger, () => settled(lines.map((line) => String(line.msg))));

    const wanted = ['published', 'handled', 'handler failed', 'retry scheduled', 'message dead-lettered'];
    for (const message of wanted) {
      assert.ok(
        recorded.some((entry) => entry.message === message),
        `Herald logs "${message}"`,
      );
    }
    // Every entry Herald logged reaches pino with all its fields and its level.
    for (const entry of recorded) {
      const line = lines.find(
        (candidate) =>
          candidate.msg === entry.message &&
          Object.keys(entry.fields).every((key) => key in candidate) &&
          pino.levels.labels[candidate.level as number] === entry.level,
      );
      assert.ok(line, `pino got "${entry.message}" with ${Object.keys(entry.fields).join(', ')}`);
    }
    const deadLettered = lines.find((line) => line.msg === 'message dead-lettered')!;
    assert.equal(deadLettered.type, Paid.type);
    assert.equal(deadLettered.group, 'ledger');
    assert.equal(deadLettered.topic, Paid.topic);
    assert.equal(typeof deadLettered.id, 'string');
    assert.equal(typeof deadLettered.offset, 'string');
    assert.equal(deadLettered.attempt, 2);
    assert.match(String(deadLettered.error), /card declined/);
    assert.equal(deadLettered.deadLetterTopic, `${Paid.topic}.dlq`);
    const failed = lines.filter((line) => line.msg === 'handler failed');
    assert.deepEqual(failed.map((line) => [line.reason, line.attempt]).sort(), [
      ['card declined', 1],
      ['card declined', 2],
      ['gateway timeout', 1],
    ]);
    for (const line of failed) {
      for (const key of ['type', 'id', 'group', 'topic', 'partition', 'offset', 'attempt', 'error']) {
        assert.ok(key in line, `"handler failed" has ${key}`);
      }
    }
  });

  it('pino at info skips the per-message debug lines (isLevelEnabled)', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info', base: null },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    await scenario(logger, () => lines.some((line) => line.msg === 'message dead-lettered'));
    assert.ok(lines.every((line) => (line.level as number) >= pino.levels.values.info!));
    assert.ok(lines.some((line) => line.msg === 'handler failed'));
    assert.ok(!lines.some((line) => line.msg === 'handled' || line.msg === 'published'));
  });

  it('consoleLogger writes JSON lines off a terminal and readable lines on one', () => {
    const written: string[] = [];
    const pipe = { write: (text: string) => written.push(text), isTTY: false };
    const json = consoleLogger({ level: 'info', destination: pipe });
    json.debug({ dropped: true }, 'below the level');
    json.warn({ topic: 'orders', offset: '7', big: 10n, message: 'a field named message' }, 'slow');
    assert.equal(written.length, 1);
    assert.ok(written[0]!.endsWith('\n'));
    const line = JSON.parse(written[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(line), [
      'time',
      'level',
      'message',
      'topic',
      'offset',
      'big',
      'field.message',
    ]);
    assert.equal(new Date(line.time as string).toISOString(), line.time);
    assert.deepEqual(
      [line.level, line.message, line.topic, line.offset, line.big, line['field.message']],
      ['warn', 'slow', 'orders', '7', '10', 'a field named message'],
    );

    const tty = { write: (text: string) => written.push(text), isTTY: true };
    consoleLogger({ level: 'warn', destination: tty }).error({ group: 'g' }, 'stuck');
    assert.equal(written[1], 'herald error: stuck {"group":"g"}\n');
    const forced = consoleLogger({ level: 'warn', destination: tty, format: 'json' });
    forced.error({}, 'forced');
    assert.equal((JSON.parse(written[2]!) as { message: string }).message, 'forced');
  });

  it('a cyclic field does not throw: the line says the fields were unserialisable', () => {
    const written: string[] = [];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    consoleLogger({ level: 'warn', destination: { write: (text: string) => written.push(text) } }).warn(
      cyclic,
      'loop',
    );
    const line = JSON.parse(written[0]!) as Record<string, unknown>;
    assert.deepEqual([line.level, line.message, line.fields], ['warn', 'loop', 'unserialisable']);
  });
});
