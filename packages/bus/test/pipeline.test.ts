import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compose, type MessageContext, type Middleware } from '../src/context.ts';
import { logging } from '../src/middleware/logging.ts';
import { validation } from '../src/middleware/validation.ts';
import { pipeline } from '../src/pipeline.ts';
import { OrderCreated } from './fixtures.ts';

/** A context with what logging and validation read; `lines` collects the log's messages. */
function contextFor(data: unknown, lines: string[]): MessageContext {
  const log = (_fields: unknown, message: string) => lines.push(message);
  return {
    contract: OrderCreated,
    envelope: { type: OrderCreated.type, id: 'id-1', source: '/test' },
    group: 'g',
    message: { topic: 'orders', partition: 0, offset: '0' },
    data,
    logger: { isLevelEnabled: () => true, debug: log, warn: log },
  } as unknown as MessageContext;
}

describe('pipeline', () => {
  it('runs any middleware between logging and validation in order, before validation, as composed', async () => {
    const seen: string[] = [];
    const around =
      (name: string): Middleware =>
      async (context, next) => {
        // Validation has not run yet: the default of `items` is not filled in.
        seen.push(
          `${name} before, items ${(context.data as { items?: unknown }).items === undefined ? 'absent' : 'set'}`,
        );
        await next();
        seen.push(`${name} after`);
      };
    const user: Middleware = async (context, next) => {
      seen.push(`user, items ${JSON.stringify((context.data as { items: unknown }).items)}`);
      await next();
    };
    const lines: string[] = [];
    const run = pipeline([logging, around('a'), around('b'), validation, user], (data) => {
      seen.push(`handler ${(data as { orderId: string }).orderId}`);
    });
    await run(contextFor({ orderId: 'o-1', total: 2 }, lines));
    assert.deepEqual(seen, [
      'a before, items absent',
      'b before, items absent',
      'user, items []',
      'handler o-1',
      'b after',
      'a after',
    ]);
    assert.deepEqual(lines, ['handled']);
  });

  it('a middleware between logging and validation that skips next skips the handler; a failure is logged', async () => {
    const lines: string[] = [];
    let handled = 0;
    const skip: Middleware = async () => {};
    await pipeline([logging, skip, validation], () => {
      handled += 1;
    })(contextFor({ orderId: 'o-1', total: 2 }, lines));
    assert.equal(handled, 0);
    assert.deepEqual(lines, ['handled']);
    const failing: Middleware = async () => {
      throw new Error('boom');
    };
    // A run may throw or reject (it returns no promise when it finished synchronously): either counts.
    await assert.rejects(
      async () => pipeline([logging, failing, validation], () => {})(contextFor({}, lines)),
      /boom/,
    );
    assert.deepEqual(lines, ['handled', 'handler failed']);
    // Validation still runs after the middleware between: an invalid payload is refused.
    await assert.rejects(
      async () =>
        pipeline([logging, async (_context, next) => next(), validation], () => {})(
          contextFor({ total: -1 }, lines),
        ),
      (error: Error) => error.name === 'ValidationError',
    );
  });

  it('compose refuses a second next() from one middleware, per message', async () => {
    const twice: Middleware = async (_context, next) => {
      await next();
      await next();
    };
    let handled = 0;
    const run = compose([twice], async () => {
      handled += 1;
    });
    await assert.rejects(run(contextFor({}, [])), /next\(\) twice/);
    await assert.rejects(run(contextFor({}, [])), /next\(\) twice/);
    assert.equal(handled, 2);
  });
});
