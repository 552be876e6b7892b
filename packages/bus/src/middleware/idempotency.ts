/**
 * Skips messages the group already processed, and records each one it processes. With a
 * transactional store, `context.transaction(work)` commits the handler's writes together with the
 * dedup record, so the effect happens exactly once even across crashes.
 */
import { isThenable, type MessageContext, type Middleware } from '../context.ts';
import { ConfigurationError } from '../errors.ts';
import type { IdempotencyKey, IdempotencyStore } from '../idempotency.ts';
import { type OutboxTransaction, withStaging } from '../outbox.ts';
import { logFailure, logHandled } from './logging.ts';

/** Thrown inside a transactional handler when its message turns out to be a duplicate. */
class DuplicateMessage extends Error {}

/** Counts kept by the idempotency middleware. */
export interface IdempotencyCounters {
  /** Messages skipped because the group had processed them already. */
  duplicatesSkipped: number;
}

/** What the idempotency step of one bus works with: the same for every message. */
interface Dedup {
  readonly store: IdempotencyStore;
  readonly counters: IdempotencyCounters;
  readonly source: string;
}

/**
 * The idempotency step around `inner` (the rest of the pipeline, called with the context; it may
 * return a value, a thenable, or throw). `log`: `undefined` when the caller logs the run (the
 * middleware form, inside `logging`); else the run is also the `logging` middleware's: `false`
 * logs failures only, `true` also the debug line of a handled message, timed from `startedMs`.
 */
export type DedupRun = (
  context: MessageContext,
  inner: (context: MessageContext) => unknown,
  log?: boolean,
  startedMs?: number,
) => Promise<void>;

/**
 * The steps built by {@link idempotency}, by middleware: `pipeline` runs a registration's
 * `logging`, idempotency and `validation` as one async function with this (one promise and frame
 * per message instead of four, and no `next` closure), with the same outcome and log lines.
 */
export const dedupRuns = new WeakMap<Middleware, DedupRun>();

/**
 * Builds the middleware over `store`, counting skipped duplicates in `counters`; messages staged
 * in its outbox (if any) carry `source`, the bus's CloudEvents source.
 */
export function idempotency(store: IdempotencyStore, counters: IdempotencyCounters, source = ''): Middleware {
  const dedup: Dedup = { store, counters, source };
  const run: DedupRun = (context, inner, log, startedMs) =>
    deduplicated(dedup, context, inner, log, startedMs);
  const middleware: Middleware = (context, next) => deduplicated(dedup, context, next);
  dedupRuns.set(middleware, run);
  return middleware;
}

/** One message through the idempotency step (see {@link DedupRun}). */
async function deduplicated(
  dedup: Dedup,
  context: MessageContext,
  inner: (context: MessageContext) => unknown,
  log?: boolean,
  startedMs = 0,
): Promise<void> {
  try {
    const { store, counters } = dedup;
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
    } else {
      const transaction = inTransaction(dedup, context, key);
      context.transaction = transaction.run;
      let duplicate = false;
      try {
        // A handler that returned no thenable costs no await (a promise and a microtask per message).
        const result = inner(context);
        if (isThenable(result)) await result;
      } catch (error) {
        if (!(error instanceof DuplicateMessage)) throw error;
        counters.duplicatesSkipped += 1;
        duplicate = true;
      }
      if (!duplicate && !transaction.recorded) await store.remember(key);
    }
    if (log === true) logHandled(context, startedMs);
  } catch (error) {
    if (log !== undefined) logFailure(context, error);
    throw error;
  }
}

/** `context.transaction` of one message, and whether it recorded the message's key. */
function inTransaction(
  dedup: Dedup,
  context: MessageContext,
  key: IdempotencyKey,
): { run: MessageContext['transaction']; recorded: boolean } {
  const state = {
    recorded: false,
    run: async <T, Transaction>(
      work: (transaction: OutboxTransaction<Transaction>) => Promise<T>,
    ): Promise<T> => {
      const { store, source } = dedup;
      if (store.transaction === undefined) {
        throw new ConfigurationError(
          `context.transaction needs a transactional idempotency store; "${store.name}" is not one ` +
            '(use the PostgreSQL inbox from @herald/postgres)',
        );
      }
      if (state.recorded) {
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
      state.recorded = true;
      if (outcome.duplicate) throw new DuplicateMessage();
      return outcome.value;
    },
  };
  return state;
}
