/**
 * The bus's public API: the {@link Bus} interface applications program against, its options and
 * counters. `bus.ts` implements it (`createBus`); the types live apart so the contract reads on
 * its own page.
 */
import type { AnnounceOptions } from './announcements.ts';
import type { HandlerContext, Middleware, PublishOptions } from './context.ts';
import type {
  CommandContract,
  Contract,
  EventContract,
  InputOf,
  PayloadOf,
  QueryContract,
  ResultOf,
} from './contracts.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { DispatchCounters, UnknownTypeAction } from './dispatcher.ts';
import type { Envelope } from './envelope.ts';
import type { BusHealth } from './health.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { Logger } from './logger.ts';
import type { BusMetrics } from './metrics.ts';
import type { IdempotencyCounters } from './middleware/idempotency.ts';
import type { OutboxTransaction } from './outbox.ts';
import type { OutboxRelayOptions } from './outbox-relay.ts';
import type { RetryPolicy } from './retry-policy.ts';
import type { CancelOutcome, CloseOptions, Transport } from './transport.ts';

/** Options of {@link createBus}. */
export interface BusOptions {
  /** Where messages go. Required here; the `herald` package defaults it to the embedded broker. */
  readonly transport: Transport;
  /** CloudEvents `source` of everything this bus publishes (default `/herald/<host>/<pid>`). */
  readonly source?: string;
  /** Contracts this bus knows besides those it publishes or handles; other types are "unknown". */
  readonly contracts?: readonly Contract[];
  /** Middleware run around every handler, after Herald's logging and validation. */
  readonly middleware?: readonly Middleware[];
  /** What to do with a consumed message of an unknown type (default `'dead-letter'`). */
  readonly onUnknown?: UnknownTypeAction;
  /** Dead-letter topic of a topic (default `<topic>.dlq`). */
  readonly deadLetterTopic?: (topic: string) => string;
  /** Default retry policy of every handler. */
  readonly retry?: Partial<RetryPolicy>;
  /** Where Herald logs (default: warnings and errors to stderr). */
  readonly logger?: Logger;
  /**
   * Deduplicates consumed messages per group by CloudEvents `(source, id)`. The bus closes the
   * store on `stop()`. Default: none here; the `herald` package defaults to a SQLite store beside
   * the embedded broker's data.
   */
  readonly idempotency?: IdempotencyStore;
  /** Default handler timeout (default 30 s, at most 1 hour); see {@link HandlerOptions.timeoutMs}. */
  readonly handlerTimeoutMs?: number;
  /**
   * Whether `stop()` closes the transport (default true). Pass false when several buses share one
   * transport; then close it yourself after the last bus stopped.
   */
  readonly ownsTransport?: boolean;
  /**
   * Receives a call per publish, handler run, retry and dead-letter (default: none). `herald`'s
   * `prometheusMetrics().bus` serves them as Prometheus `herald_*` metrics.
   */
  readonly metrics?: BusMetrics;
  /**
   * The relay of the idempotency store's outbox (when it has one): its bounds, or `false` when
   * another bus (or process) of the same database relays and this one only stages. Default: a
   * relay with the defaults of {@link OutboxRelayOptions} runs from `start()` to `stop()`.
   */
  readonly outboxRelay?: OutboxRelayOptions | false;
  /**
   * Whether this bus runs its transport's scheduler, on a transport that keeps scheduled messages
   * in a schedule topic (`features.scheduling.mode === 'schedule-topic'`, e.g. Kafka, RabbitMQ),
   * so this process publishes due messages (default true). The scheduler is one per transport
   * object, however many buses share it: the first bus to start joins the schedulers' group and
   * the last to stop leaves it. Opt out (`false`) only where this process must not read the
   * schedule topic, e.g. a publish-only process whose credentials cannot read `herald.schedule`;
   * at least one started bus per broker must run it, or scheduled messages wait. Transports that
   * schedule natively ignore it.
   */
  readonly runScheduler?: boolean;
  /**
   * How the bus announces itself on the topic `herald.services` (`SERVICES_TOPIC`): on `start()`,
   * every `intervalMs` (30 s), within 1 s of first publishing a new type, and as `leaving` on
   * `stop()` — its service (default: the last segment of `source`), instance id, the contracts it
   * publishes or sends, its handlers (topic, group, types), transport and Herald version. The
   * console draws its topology from these. A failed announcement is a logged warning, never an
   * error; `start()` and `stop()` wait at most 2 s for theirs. `false`: never announce (no
   * `herald.services` topic). Default: announce with the defaults of {@link AnnounceOptions}.
   */
  readonly announce?: AnnounceOptions | false;
}

/** What a bus has done since it was created. */
export interface BusStats extends DispatchCounters, IdempotencyCounters {
  /** Messages published or sent through this bus. */
  published: number;
  /** Replies that arrived after their request timed out (dropped). */
  lateReplies: number;
}

/** Longest accepted handler timeout. */
export const HANDLER_TIMEOUT_MS_MAX = 60 * 60 * 1000;

/** Options of {@link Bus.on}, {@link Bus.handle} and {@link Bus.reply}. */
export interface HandlerOptions {
  /** Messages processed at once, 1…4096 (default 1). Messages with one key are always processed in order. */
  readonly concurrency?: number;
  /** Overrides the bus's retry policy for this handler. */
  readonly retry?: Partial<RetryPolicy>;
  /** Middleware for this handler only, run after the bus's. */
  readonly middleware?: readonly Middleware[];
  /**
   * A run still going after this long is a failed attempt (its `signal` aborts, then it is retried
   * or dead-lettered). Default: the bus's `handlerTimeoutMs`.
   */
  readonly timeoutMs?: number;
}

/** Options of {@link Bus.on}. */
export interface SubscribeHandlerOptions extends HandlerOptions {
  /** The consumer group: every group receives every event; members of one group share them. */
  readonly group: string;
  /**
   * Read every topic matching this pattern (`orders.*`: `*` is one `.`-separated word, a final `>`
   * one or more) instead of the contract's topic, including topics created later, where the
   * transport supports it (`transport.features.topicPatterns`; otherwise `ConfigurationError`).
   * Handlers of one group and pattern share one subscription; dead letters on matching topics
   * are skipped. Messages of types the bus does not know go to `onUnknown`. `concurrency` bounds
   * each matching topic (at most 10,000 topics per pattern, `PATTERN_TOPICS_MAX`).
   */
  readonly topicPattern?: string;
}

/** A handler of a message with payload `T`. */
export type Handler<T> = (data: T, context: HandlerContext<T>) => Promise<void> | void;

/** Options of {@link Bus.stop}. */
export interface StopOptions {
  /**
   * How long stopping may take (default 10 s). Running handlers get up to this, then their signals
   * abort and they get 1 s more; closing the subscriptions and the transport then waits on the
   * broker for what is left of it, but at least 1 s (time for a last commit of acked messages),
   * and never past the transport's own bound (such as the Kafka transport's `closeTimeoutMs`).
   */
  readonly timeoutMs?: number;
}

/** Options of {@link Bus.request}. */
export interface RequestOptions extends PublishOptions {
  /** How long to wait for the reply (default 5 s, at most 10 min). */
  readonly timeoutMs?: number;
}

/** The typed bus. */
export interface Bus extends AsyncDisposable {
  /** The transport underneath. */
  readonly transport: Transport;
  /** CloudEvents `source` of this bus's messages. */
  readonly source: string;
  /** Validates `data` and publishes it; resolves with the envelope once the transport accepted it durably. */
  publish<C extends EventContract>(
    event: C,
    data: InputOf<C>,
    options?: PublishOptions,
  ): Promise<Envelope<PayloadOf<C>>>;
  /** Validates `data` and sends the command to its one handler; resolves once accepted durably. */
  send<C extends CommandContract>(
    command: C,
    data: InputOf<C>,
    options?: PublishOptions,
  ): Promise<Envelope<PayloadOf<C>>>;
  /**
   * Cancels a message scheduled with `deliverAt` or `delayMs`, by the `id` of the envelope its
   * publish or send resolved with. Resolves `'cancelled'` (it will not be delivered),
   * `'not-pending'` (already delivered, cancelled, or unknown) or, on transports that keep the
   * schedule in a topic, `'requested'` (recorded durably; the scheduler drops the message if it
   * still waits when the cancellation reaches it). Rejects with `ScheduleError`
   * (`SCHEDULE_UNSUPPORTED`) when the transport keeps no schedule, `ClosedError` once stopped.
   */
  cancelScheduled(id: string): Promise<CancelOutcome>;
  /** Sends a query and resolves with its validated result; rejects with `TimeoutError` or `RemoteError`. */
  request<Q extends QueryContract>(
    query: Q,
    data: InputOf<Q>,
    options?: RequestOptions,
  ): Promise<ResultOf<Q>>;
  /** Registers an event handler for a consumer group. Call before {@link Bus.start}. */
  on<C extends EventContract>(
    event: C,
    options: SubscribeHandlerOptions,
    handler: Handler<PayloadOf<C>>,
  ): this;
  /** Registers the one handler of a command. Call before {@link Bus.start}. */
  handle<C extends CommandContract>(
    command: C,
    handler: Handler<PayloadOf<C>>,
    options?: HandlerOptions,
  ): this;
  /** Registers the one replier of a query. Call before {@link Bus.start}. */
  reply<Q extends QueryContract>(
    query: Q,
    handler: (
      data: PayloadOf<Q>,
      context: HandlerContext<PayloadOf<Q>>,
    ) => Promise<ResultOf<Q>> | ResultOf<Q>,
    options?: HandlerOptions,
  ): this;
  /** Subscribes every registered handler; messages flow once it resolves. */
  start(): Promise<void>;
  /**
   * Drains running handlers (up to `timeoutMs`; they may still publish meanwhile), closes
   * subscriptions, then the transport (unless `ownsTransport: false`), passing each what is left of
   * `timeoutMs` as {@link CloseOptions.timeoutMs} (see {@link StopOptions.timeoutMs}). Idempotent.
   */
  stop(options?: StopOptions): Promise<void>;
  /** List and redrive dead letters. */
  readonly deadLetters: DeadLetters;
  /** Counters since the bus was created. */
  stats(): Readonly<BusStats>;
  /**
   * Its state now: started, transport connected, each subscription's state, the last failure,
   * and the `live`/`ready` verdicts that health endpoints serve. Cheap (no broker round trip).
   */
  health(): BusHealth;
  /**
   * `transaction` (one you opened yourself on the database of the idempotency store's outbox: a
   * `pg` client after `begin`) with `publish` and `send` that stage messages in it; they are
   * published after your commit, and never if you roll back. Throws `ConfigurationError` when the
   * idempotency store has no outbox.
   */
  outbox<Transaction>(transaction: Transaction): OutboxTransaction<Transaction>;
  /**
   * Runs `work` in one transaction of the outbox's database (a `pg` client, a SQLite
   * `DatabaseSync`), where `tx.publish` / `tx.send` stage messages, and commits; the relay is woken
   * right after. Rejects with what `work` threw (after a rollback), or `ConfigurationError` when the
   * idempotency store has no outbox.
   */
  transaction<T, Transaction = unknown>(
    work: (transaction: OutboxTransaction<Transaction>) => Promise<T>,
  ): Promise<T>;
}
