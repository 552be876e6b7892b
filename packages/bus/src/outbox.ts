/**
 * The transactional outbox: messages a transaction wants sent are stored as rows of the same
 * database transaction as the business rows, and a relay publishes them after the commit. Commit
 * and publish then cannot part: a crash after the commit leaves the rows for the next relay pass,
 * and a rolled-back transaction leaves none (no phantom message).
 *
 * This file holds what every store shares: the row ({@link OutboxRecord}), the contract a
 * database's outbox implements ({@link OutboxStore}), and {@link OutboxStaging} (`tx.publish` /
 * `tx.send`), which builds rows exactly as `bus.publish` builds envelopes. The relay is in
 * `outbox-relay.ts`; the SQLite store is in `herald`, the PostgreSQL one in `@herald/postgres`.
 */
import { type Context, isSpanContextValid, context as otelContext, trace } from '@opentelemetry/api';
import type { PublishOptions } from './context.ts';
import type { CommandContract, EventContract, InputOf } from './contracts.ts';
import type { Envelope } from './envelope.ts';
import { ConfigurationError } from './errors.ts';
import type { IdempotencyStore } from './idempotency.ts';
import { deliverAtMs } from './schedule/deliver-at.ts';
import { validate } from './schema.ts';
import { formatTraceparent, sendParent } from './tracing.ts';
import { uuidv7 } from './uuid.ts';

/**
 * Furthest ahead a staged message may be scheduled (400 days): the store keeps the time; the
 * transport's own horizon is checked again when the relay schedules it.
 */
export const OUTBOX_SCHEDULE_HORIZON_MS_MAX = 400 * 86_400_000;

/** One message staged in an outbox: everything the relay needs to publish it later, as it was meant. */
export interface OutboxRecord {
  /** CloudEvents `id`, kept on every republish so consumers' dedup drops a copy. */
  readonly id: string;
  /** CloudEvents `source` of the staging bus: with `id`, what consumers deduplicate by. */
  readonly source: string;
  /** CloudEvents `type`: the relay finds the contract (and so the topic) by it. */
  readonly type: string;
  /** Partition key; messages of one key are published in staging order. */
  readonly key: string | undefined;
  readonly subject: string | undefined;
  /** The validated payload as JSON text. */
  readonly data: string;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  /** W3C trace context of the staging code: the relay's `send` span becomes its child. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** CloudEvents extensions given at staging (without `tracestate`, kept above). */
  readonly extensions: Readonly<Record<string, string>>;
  /**
   * When set (ms since the epoch, from the staging's `deliverAt` / `delayMs`), the relay schedules
   * the message for that time through the bus (`features.scheduling`) instead of publishing it now.
   */
  readonly deliverAtMs?: number | undefined;
}

/** A record as the relay reads it back: with its position in staging order. */
export interface StagedRecord extends OutboxRecord {
  /** Rises in staging order within one store (a database sequence). */
  readonly seq: number;
}

/** What one relay pass did. */
export interface OutboxPass {
  /** Rows the pass took (locked, or read) to publish. */
  readonly claimed: number;
  /** Rows published and marked sent. */
  readonly published: number;
  /** Whether a publish failed (the row stays unsent; later rows of its key wait for it). */
  readonly failed: boolean;
}

/** How far the relay is behind. */
export interface OutboxLag {
  /** Rows not yet marked sent. */
  readonly unsentCount: number;
  /** Age of the oldest of them in milliseconds (0 when there are none). */
  readonly oldestUnsentAgeMs: number;
}

/**
 * The outbox of one database, as implemented by `@herald/postgres` and `herald`'s SQLite store and
 * used by the bus's relay. Implementations document how several relays coordinate.
 */
export interface OutboxStore {
  /** Short name for logs and metrics labels, e.g. `sqlite:outbox`. */
  readonly name: string;
  /**
   * Inserts `records` inside `transaction` (the store's own transaction type: a `pg` client in a
   * transaction, the `DatabaseSync` of a SQLite transaction), in order. They are published only
   * if that transaction commits.
   */
  stage(transaction: unknown, records: readonly OutboxRecord[]): Promise<void>;
  /** Runs `work` in one transaction of the outbox's database and commits it (or rolls back on a throw). */
  transaction<T>(work: (transaction: unknown) => Promise<T>): Promise<T>;
  /**
   * One relay pass: takes up to `batchRows` committed unsent rows in staging order that no other
   * relay holds and whose key has no earlier unsent row elsewhere, hands them to `publish`, and
   * marks the ids it resolves as sent. A crash in between republishes them (same ids) later.
   */
  relay(
    batchRows: number,
    publish: (records: readonly StagedRecord[]) => Promise<ReadonlySet<string>>,
  ): Promise<OutboxPass>;
  /** Calls `listener` soon after a commit that staged rows; returns a function that stops it. */
  watch(listener: () => void): () => Promise<void>;
  /** Deletes rows sent more than `retentionMs` ago (in bounded batches); resolves how many. */
  prune(retentionMs: number): Promise<number>;
  /** The unsent rows' count and oldest age. */
  lag(): Promise<OutboxLag>;
}

/** `tx.publish` and `tx.send`: stage messages in a transaction instead of publishing them now. */
export interface OutboxStaging {
  /** Validates `data` and stages the event; it is published after the transaction commits. */
  publish<C extends EventContract>(event: C, data: InputOf<C>, options?: PublishOptions): Promise<void>;
  /** Validates `data` and stages the command; it is sent after the transaction commits. */
  send<C extends CommandContract>(command: C, data: InputOf<C>, options?: PublishOptions): Promise<void>;
}

/** A transaction of the store's database that can also stage messages: `tx.query(…)` and `tx.publish(…)`. */
export type OutboxTransaction<Transaction> = Transaction & OutboxStaging;

/**
 * Builds the row for a publish of `contract` with `input` by the bus with CloudEvents `source`, as `bus.publish` would build its
 * envelope: validated payload, id, key, subject, correlation and causation (from `cause`, the
 * message being handled, if any) and the trace context of the caller (`traceContext`, else the
 * active context, else the cause's).
 */
export async function outboxRecord(
  source: string,
  contract: EventContract | CommandContract,
  input: unknown,
  options: PublishOptions = {},
  cause?: Envelope,
  traceContext?: Context,
): Promise<OutboxRecord> {
  const atMs = deliverAtMs(options, Date.now(), OUTBOX_SCHEDULE_HORIZON_MS_MAX);
  const data = await validate(contract.schema, input, `"${contract.type}" payload`);
  const id = options.id ?? uuidv7();
  const key = options.key ?? (contract.key as ((value: unknown) => string) | undefined)?.(data);
  const subject = options.subject ?? (contract.subject as ((value: unknown) => string) | undefined)?.(data);
  const { tracestate: givenTracestate, ...extensions } = options.extensions ?? {};
  const parent = sendParent(options.traceparent, givenTracestate, traceContext ?? callerContext(cause));
  const spanContext = trace.getSpanContext(parent);
  const traced = spanContext !== undefined && isSpanContextValid(spanContext);
  return {
    id,
    source: options.source ?? source,
    type: contract.type,
    key,
    subject,
    data: JSON.stringify(data),
    correlationId: options.correlationId ?? cause?.correlationid ?? cause?.id ?? id,
    causationId: options.causationId ?? cause?.id,
    traceparent: traced ? formatTraceparent(spanContext) : (options.traceparent ?? cause?.traceparent),
    tracestate: traced ? spanContext.traceState?.serialize() || undefined : givenTracestate,
    extensions,
    deliverAtMs: atMs,
  };
}

/** The active context when it holds a span (an SDK's context manager), else the one `cause` carries. */
function callerContext(cause: Envelope | undefined): Context {
  const active = otelContext.active();
  if (cause === undefined || trace.getSpan(active) !== undefined) return active;
  return sendParent(cause.traceparent, cause.extensions.tracestate, active);
}

/**
 * `transaction` with `publish` and `send` that stage into `store` as messages of the bus with
 * CloudEvents `source` (caused by `cause` when given); every other property is the
 * transaction's own (methods bound to it), so code written for the raw client keeps working.
 */
export function withStaging<Transaction>(
  transaction: Transaction,
  store: OutboxStore,
  source: string,
  cause?: Envelope,
  traceContext?: Context,
): OutboxTransaction<Transaction> {
  const stage = async (
    contract: EventContract | CommandContract,
    data: unknown,
    options?: PublishOptions,
  ) => {
    await store.stage(transaction, [
      await outboxRecord(source, contract, data, options, cause, traceContext),
    ]);
  };
  const staging: OutboxStaging = {
    publish: (event, data, options) => stage(event, data, options),
    send: (command, data, options) => stage(command, data, options),
  };
  if (typeof transaction !== 'object' || transaction === null) {
    throw new TypeError('withStaging: the transaction must be an object (a database client)');
  }
  // A proxy rather than a copy: the raw client (a pg client, a DatabaseSync) keeps its identity
  // for `instanceof` and its native methods get their own `this`.
  return new Proxy(transaction as object, {
    get(target, property) {
      if (property === 'publish' || property === 'send') return staging[property];
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as OutboxTransaction<Transaction>;
}

/** The outbox of `store`; throws `ConfigurationError` naming `bus.<method>()` when it has none. */
export function requireOutbox(store: IdempotencyStore | undefined, method: string): OutboxStore {
  if (store?.outbox === undefined) {
    throw new ConfigurationError(
      `bus.${method}() needs an idempotency store with an outbox: create it with the outbox option ` +
        '(sqliteIdempotencyStore({ path, outbox: true }) or postgresInbox({ pool, outbox: true }))',
    );
  }
  return store.outbox;
}

/** Runs `work` in a transaction of `store` with `tx.publish` / `tx.send` staging into it (`bus.transaction`). */
export function outboxTransaction<T, Transaction>(
  store: OutboxStore,
  source: string,
  work: (transaction: OutboxTransaction<Transaction>) => Promise<T>,
): Promise<T> {
  return store.transaction((transaction) => work(withStaging(transaction as Transaction, store, source)));
}
