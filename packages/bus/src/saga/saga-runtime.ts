/**
 * `registerSaga`: runs a saga definition on a bus. Each message the saga reacts to is handled in
 * one `context.transaction`: the saga's row is read, the transition runs, and the new state (with
 * a version check), the history entry, the messages it sends (staged in the outbox) and the
 * inbox's dedup record commit together. A version conflict rolls all of it back and the message
 * is retried through the bus's retry policy. Timeouts are scheduled messages staged in the same
 * transaction (the outbox relay schedules them after the commit); the row names the one pending
 * timeout, so a timeout that was superseded is recognised as stale even when its cancellation
 * (best effort, after the commit) came too late.
 */
import type { Bus, HandlerOptions } from '../bus-api.ts';
import type { HandlerContext, PublishOptions } from '../context.ts';
import type { CommandContract, EventContract, InputOf } from '../contracts.ts';
import { ConfigurationError } from '../errors.ts';
import { consoleLogger, type Logger } from '../logger.ts';
import type { OutboxStaging, OutboxTransaction } from '../outbox.ts';
import type { Infer, StandardSchemaV1 } from '../schema.ts';
import type { SagaDefinition, SagaStatus } from './saga.ts';
import { type Delivery, transitionOnce } from './saga-apply.ts';
import { type SagaStart, startInTransaction } from './saga-start.ts';
import type { SagaHistoryEntry, SagaRecord, SagaStore } from './saga-store.ts';

/** Options of {@link registerSaga}; every bound is checked at registration. */
export interface SagaRuntimeOptions {
  /** Where states and histories live: on the database of the bus's idempotency store (with outbox). */
  readonly store: SagaStore;
  /** Consumer group of the saga's event handlers (default: the saga's name); commands have their one handler group. */
  readonly group?: string;
  /** Messages handled at once per subscription (passed to the bus; default the bus's). */
  readonly concurrency?: number;
  /** Retry policy of the saga's handlers, e.g. more attempts where conflicts are frequent (default the bus's). */
  readonly retry?: HandlerOptions['retry'];
  /** How long finished sagas stay queryable before they are pruned: 0…365 days (default 7 days). */
  readonly retentionMs?: number;
  /** Interval between prunes: 1 s…1 day (default 1 minute); each prune deletes at most {@link SAGA_PRUNE_ROWS_MAX}. */
  readonly pruneIntervalMs?: number;
  /** History entries kept per saga, newest first: 1…100,000 (default 1,000). */
  readonly historyEntriesMax?: number;
  /** Logger for ignored messages and failed prunes (default: a console logger at `info`). */
  readonly logger?: Logger;
}

/** A saga instance as the runtime shows it: the stored record with the state typed. */
export interface SagaView<S> extends Omit<SagaRecord, 'state'> {
  readonly state: S;
}

/** A registered saga: starts in a caller's transaction, queries for consoles and tests, pruning, and `close()`. */
export interface SagaRuntime<S> {
  /**
   * Starts the saga inside `transaction` (the `tx` of `bus.transaction(tx => …)`,
   * `bus.outbox(yourTransaction)` or `context.transaction(tx => …)`, on the saga store's
   * database) rather than one broker hop later: stages `contract`/`data` like `tx.publish` /
   * `tx.send` (other consumers get it as before) and runs the saga's start transition in the same
   * transaction, so the caller's rows, the start message, the saga's first state and the messages
   * the transition sends commit together or not at all. When the saga's handler later receives
   * the published message it finds the saga started and ignores it: one start either way. Works
   * while the runtime's bus is stopped (it needs only the transaction). Rejects with
   * `ConfigurationError` when the saga is not `startedBy` `contract` or `transaction` cannot
   * stage; with the transition's own errors (a `SagaConflictError` when another transaction
   * started the same id: retry the whole transaction).
   */
  start<C extends EventContract | CommandContract>(
    transaction: OutboxStaging,
    contract: C,
    data: InputOf<C>,
    options?: PublishOptions,
  ): Promise<SagaStart>;
  /** The committed instance `id`, or undefined (never started, or pruned). */
  find(id: string): Promise<SagaView<S> | undefined>;
  /** Its transitions, oldest first (at most `limit`, default and cap {@link SAGA_QUERY_ROWS_MAX}). */
  history(id: string, limit?: number): Promise<SagaHistoryEntry[]>;
  /** Instances in `status`, newest first (at most `limit`, default and cap {@link SAGA_QUERY_ROWS_MAX}). */
  list(status: SagaStatus, limit?: number): Promise<SagaView<S>[]>;
  /** Deletes sagas finished more than `retentionMs` ago (at most {@link SAGA_PRUNE_ROWS_MAX}); resolves how many. */
  prune(): Promise<number>;
  /** Stops the prune timer and closes the store's own connections (not the bus). */
  close(): Promise<void>;
}

/** Rows a query returns at most. */
export const SAGA_QUERY_ROWS_MAX = 10_000;
/** Sagas one prune deletes at most, so a prune never holds the database long; the next continues. */
export const SAGA_PRUNE_ROWS_MAX = 10_000;

interface Settings {
  readonly retentionMs: number;
  readonly pruneIntervalMs: number;
  readonly historyEntriesMax: number;
}

function bounded(value: number | undefined, fallback: number, min: number, max: number, name: string) {
  const result = value ?? fallback;
  if (!(Number.isFinite(result) && result >= min && result <= max)) {
    throw new ConfigurationError(`registerSaga: ${name} must be from ${min} to ${max}, got ${value}`);
  }
  return result;
}

function settings(options: SagaRuntimeOptions): Settings {
  if (options?.store === undefined) {
    throw new ConfigurationError(
      'registerSaga: pass { store } (sqliteSagaStore from herald, or postgresSagaStore from @herald/postgres)',
    );
  }
  return {
    retentionMs: bounded(options.retentionMs, 7 * 86_400_000, 0, 365 * 86_400_000, 'retentionMs'),
    pruneIntervalMs: bounded(options.pruneIntervalMs, 60_000, 1000, 86_400_000, 'pruneIntervalMs'),
    historyEntriesMax: bounded(options.historyEntriesMax, 1000, 1, 100_000, 'historyEntriesMax'),
  };
}

/**
 * Subscribes `saga` on `bus` (call before `bus.start()`): its starting and advancing messages, and
 * its timeout command. Needs a bus whose idempotency store is transactional and has an outbox, on
 * the same database as `options.store`. Throws `ConfigurationError` for bounds out of range.
 */
export function registerSaga<Schema extends StandardSchemaV1, Transaction>(
  bus: Bus,
  saga: SagaDefinition<Schema, Transaction>,
  options: SagaRuntimeOptions,
): SagaRuntime<Infer<Schema>> {
  const checked = settings(options);
  const { store } = options;
  const logger = options.logger ?? consoleLogger();
  const group = options.group ?? saga.name;
  const { timeoutContract } = saga;
  const commandOptions = {
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  };
  const eventOptions = { ...commandOptions, group };
  const definition = saga as unknown as SagaDefinition;
  const run = (sagaId: string, context: HandlerContext<unknown>, timeout: boolean) =>
    handleOnce(bus, definition, store, checked, context, {
      sagaId,
      envelope: context.envelope,
      data: context.data,
      timeout,
      timeoutContract,
      transport: bus.transport,
    });
  for (const step of saga.steps.values()) {
    const handler = (data: unknown, context: HandlerContext<unknown>) =>
      run(step.correlate(data), context, false);
    if (step.contract.kind === 'event') bus.on(step.contract, eventOptions, handler);
    else bus.handle(step.contract, handler, commandOptions);
  }
  bus.handle(
    timeoutContract,
    (data, context) => run(data.sagaId, context as HandlerContext<unknown>, true),
    commandOptions,
  );
  const prune = () =>
    bus.transaction((transaction) =>
      store.prune(transaction, Date.now() - checked.retentionMs, SAGA_PRUNE_ROWS_MAX),
    );
  const timer = setInterval(() => {
    prune().catch((error: unknown) =>
      logger.warn({ saga: saga.name, error }, 'saga prune failed; retried later'),
    );
  }, checked.pruneIntervalMs);
  // Pruning is housekeeping: it must not keep a process alive that has nothing else to do.
  timer.unref();
  const view = (record: SagaRecord | undefined) => record as SagaView<Infer<Schema>> | undefined;
  const limitOf = (limit: number | undefined) =>
    Math.min(Math.max(1, limit ?? SAGA_QUERY_ROWS_MAX), SAGA_QUERY_ROWS_MAX);
  const scope = { bus, saga: definition, store, historyEntriesMax: checked.historyEntriesMax };
  return {
    start: (transaction, contract, data, publishOptions) =>
      startInTransaction(scope, transaction, contract, data, publishOptions),
    find: async (id) => view(await store.find(saga.name, id)),
    history: (id, limit) => store.history(saga.name, id, limitOf(limit)),
    list: async (status, limit) =>
      (await store.list(saga.name, status, limitOf(limit))) as SagaView<Infer<Schema>>[],
    prune,
    close: async () => {
      clearInterval(timer);
      await store.close();
    },
  };
}

/** Handles one message: the transition in one transaction, then the superseded timeout's cancellation. */
async function handleOnce(
  bus: Bus,
  saga: SagaDefinition,
  store: SagaStore,
  checked: Settings,
  context: HandlerContext<unknown>,
  delivery: Delivery,
): Promise<void> {
  const outcome = await context.transaction(async (transaction: OutboxTransaction<unknown>) => {
    if (typeof transaction.send !== 'function') {
      throw new ConfigurationError(
        `saga "${saga.name}" needs a bus whose idempotency store has an outbox ` +
          '(sqliteIdempotencyStore({ path, outbox: true }) or postgresInbox({ pool, outbox: true }))',
      );
    }
    return transitionOnce(saga, store, checked.historyEntriesMax, delivery, transaction);
  });
  if (outcome?.ignored !== undefined) {
    context.logger.debug(
      { saga: saga.name, sagaId: delivery.sagaId, reason: outcome.ignored },
      'saga ignored a message',
    );
  }
  // Best effort: a timeout not yet scheduled (its outbox row still unsent) or already delivered
  // cannot be cancelled, and arrives stale; the row's timeoutId makes the saga ignore it.
  if (outcome?.cancelTimeoutId !== undefined) {
    await bus.cancelScheduled(outcome.cancelTimeoutId).catch((error: unknown) => {
      context.logger.debug({ saga: saga.name, error }, 'saga timeout not cancelled; it will arrive stale');
    });
  }
}
