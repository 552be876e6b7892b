/**
 * Skips messages the group already processed, and records each one it processes. With a
 * transactional store, `context.transaction(work)` commits the handler's writes together with the
 * dedup record, so the effect happens exactly once even across crashes.
 */
import type { Middleware } from '../context.ts';
import { ConfigurationError } from '../errors.ts';
import type { IdempotencyKey, IdempotencyStore } from '../idempotency.ts';
import { type OutboxTransaction, withStaging } from '../outbox.ts';

/** Thrown inside a transactional handler when its message turns out to be a duplicate. */
class DuplicateMessage extends Error {}

/** Counts kept by the idempotency middleware. */
export interface IdempotencyCounters {
  /** Messages skipped because the group had processed them already. */
  duplicatesSkipped: number;
}

/**
 * Builds the middleware over `store`, counting skipped duplicates in `counters`; messages staged
 * in its outbox (if any) carry `source`, the bus's CloudEvents source.
 */
export function idempotency(store: IdempotencyStore, counters: IdempotencyCounters, source = ''): Middleware {
  return async (context, next) => {
    const key: IdempotencyKey = {
      group: context.group,
      source: context.envelope.source,
      id: context.envelope.id,
    };
    if (await store.seen(key)) {
      counters.duplicatesSkipped += 1;
      context.logger.debug(
        { ...key, type: context.envelope.type, group: context.group },
        'duplicate skipped',
      );
      return;
    }
    let recordedInTransaction = false;
    context.transaction = async <T, Transaction>(
      work: (transaction: OutboxTransaction<Transaction>) => Promise<T>,
    ): Promise<T> => {
      if (store.transaction === undefined) {
        throw new ConfigurationError(
          `context.transaction needs a transactional idempotency store; "${store.name}" is not one ` +
            '(use the PostgreSQL inbox from @herald/postgres)',
        );
      }
      if (recordedInTransaction) {
        throw new ConfigurationError(
          'context.transaction may run once per message: put all writes in one call',
        );
      }
      // The store hands its own transaction type (a pg client) to work typed by the caller; with an
      // outbox in the same database, tx.publish / tx.send stage caused by this message.
      const outbox = store.outbox;
      const run =
        outbox === undefined
          ? (work as (transaction: unknown) => Promise<T>)
          : (transaction: unknown) =>
              work(withStaging(transaction as Transaction, outbox, source, context.envelope));
      const outcome = await store.transaction(key, run);
      recordedInTransaction = true;
      if (outcome.duplicate) throw new DuplicateMessage();
      return outcome.value;
    };
    try {
      await next();
    } catch (error) {
      if (!(error instanceof DuplicateMessage)) throw error;
      counters.duplicatesSkipped += 1;
      return;
    }
    if (!recordedInTransaction) await store.remember(key);
  };
}
