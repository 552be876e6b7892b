import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compose, type MessageContext, type Middleware } from '../src/context.ts';
import type { IdempotencyStore } from '../src/idempotency.ts';
import { memoryIdempotencyStore } from '../src/index.ts';
import { idempotency } from '../src/middleware/idempotency.ts';
import { logging } from '../src/middleware/logging.ts';
import { validation } from '../src/middleware/validation.ts';
import { pipeline } from '../src/pipeline.ts';
import { OrderCreated } from './fixtures.ts';

/** A context with what the steps read; `lines` collects the log's messages. */
function contextFor(id: string, data: unknown, lines: string[]): MessageContext {
  const log = (_fields: unknown, message: string) => lines.push(message);
  return {
    contract: OrderCreated,
    envelope: { type: OrderCreated.type, id, source: '/test' },
    group: 'g',
    message: { topic: 'orders', partition: 0, offset: '0' },
    data,
    logger: { isLevelEnabled: () => true, debug: log, warn: log },
  } as unknown as MessageContext;
}

/**
 * A memory store with a `transaction` that claims the key unless it was claimed or remembered;
 * `seen` misses ids starting with `race`, as when another consumer claims the key in between.
 */
function transactionalStore(): IdempotencyStore {
  const store = memoryIdempotencyStore();
  return {
    ...store,
    seen: (key) => (key.id.startsWith('race') ? Promise.resolve(false) : store.seen(key)),
    remember: (key) => store.remember(key),
    async transaction(key, work) {
      if (await store.seen(key)) return { duplicate: true };
      const value = await work('tx');
      await store.remember(key);
      return { duplicate: false, value };
    },
  };
}

type Handler = (data: unknown, context: MessageContext) => unknown;

/**
 * Runs the same messages through `pipeline` (which runs logging, the idempotency step and
 * validation as one function) and through the composed middleware, each with its own store, and
 * returns what each did: outcome per message, log lines, duplicates counted, handler calls.
 */
async function bothWays(messages: [id: string, data: unknown][], handlerFor: () => Handler) {
  const results = [];
  for (const fused of [true, false]) {
    const counters = { duplicatesSkipped: 0 };
    const store = transactionalStore();
    const middleware: Middleware[] = [logging, idempotency(store, counters), validation];
    const calls: string[] = [];
    const handler = handlerFor();
    const counted: Handler = (data, context) => {
      calls.push(context.envelope.id);
      return handler(data, context);
    };
    const run = fused
      ? pipeline(middleware, counted)
      : compose(middleware, async (context) => {
          await counted(context.data, context);
        });
    const lines: string[] = [];
    const outcomes: string[] = [];
    for (const [id, data] of messages) {
      try {
        await run(contextFor(id, data, lines));
        outcomes.push('ok');
      } catch (error) {
        outcomes.push((error as Error).name);
      }
    }
    results.push({ outcomes, lines, duplicates: counters.duplicatesSkipped, calls });
  }
  return results;
}

const valid = { orderId: 'o-1', total: 2 };

// `pipeline` runs the bus's logging, idempotency and validation as one async function; these check
// it against the composed middleware it replaces.
describe('the idempotency step in a pipeline', () => {
  it('skips a processed message, remembers only a handled one, as the composed middleware does', async () => {
    const [fused, composed] = await bothWays(
      [
        ['a', valid],
        ['a', valid], // duplicate: skipped, logged as handled
        ['b', { total: -1 }], // invalid: failed, not remembered
        ['b', valid],
        ['c', valid], // the handler fails: not remembered, so handled on redelivery
        ['c', valid],
      ],
      () => {
        let failed = false;
        return (_data, context) => {
          if (context.envelope.id === 'c' && !failed) {
            failed = true;
            throw new Error('boom');
          }
        };
      },
    );
    assert.deepEqual(fused, composed);
    assert.deepEqual(fused!.outcomes, ['ok', 'ok', 'ValidationError', 'ok', 'Error', 'ok']);
    assert.deepEqual(fused!.calls, ['a', 'b', 'c', 'c']);
    assert.equal(fused!.duplicates, 1);
    assert.deepEqual(fused!.lines, [
      'handled',
      'duplicate skipped',
      'handled',
      'handler failed',
      'handled',
      'handler failed',
      'handled',
    ]);
  });

  it("waits for a handler's thenable before remembering: a late rejection is not remembered", async () => {
    const [fused, composed] = await bothWays(
      [
        ['d', valid],
        ['d', valid],
        ['d', valid],
      ],
      () => {
        let failed = false;
        return () => ({
          // biome-ignore lint/suspicious/noThenProperty: a thenable that is no Promise is what this tests.
          then(resolve: () => void, reject: (error: Error) => void) {
            setImmediate(() => {
              if (failed) return resolve();
              failed = true;
              reject(new Error('late'));
            });
          },
        });
      },
    );
    assert.deepEqual(fused, composed);
    assert.deepEqual(fused!.outcomes, ['Error', 'ok', 'ok']);
    assert.deepEqual(fused!.calls, ['d', 'd']);
    assert.equal(fused!.duplicates, 1);
  });

  it('context.transaction records the key once; a duplicate found there is skipped; twice is refused', async () => {
    const [fused, composed] = await bothWays(
      [
        ['t', valid],
        ['t', valid],
        ['race', valid],
        ['race', valid], // seen misses it; its transaction finds it claimed: skipped
        ['twice', valid],
      ],
      () => async (_data, context) => {
        assert.equal(await context.transaction(async (tx) => tx), 'tx');
        if (context.envelope.id === 'twice') await context.transaction(async () => undefined);
      },
    );
    assert.deepEqual(fused, composed);
    assert.deepEqual(fused!.outcomes, ['ok', 'ok', 'ok', 'ok', 'ConfigurationError']);
    assert.deepEqual(fused!.calls, ['t', 'race', 'race', 'twice']);
    assert.equal(fused!.duplicates, 2);
  });
});
