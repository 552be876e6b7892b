/**
 * `createBus()`: the typed API applications use. It validates and wraps payloads in CloudEvents
 * envelopes, publishes them through a {@link Transport}, and runs handlers behind a middleware
 * pipeline with retries and dead-lettering.
 */
import { hostname } from 'node:os';
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
import { defaultDeadLetterTopic } from './dead-letter.ts';
import { type DeadLetters, deadLetters } from './dead-letters.ts';
import {
  type DispatchCounters,
  Dispatcher,
  type DispatcherHost,
  pipeline,
  type UnknownTypeAction,
} from './dispatcher.ts';
import { type Envelope, encodeEnvelope } from './envelope.ts';
import { ClosedError, ConfigurationError } from './errors.ts';
import type { IdempotencyStore } from './idempotency.ts';
import { consoleLogger, type Logger } from './logger.ts';
import { type IdempotencyCounters, idempotency } from './middleware/idempotency.ts';
import { logging } from './middleware/logging.ts';
import { validation } from './middleware/validation.ts';
import { assertName, assertTopicName } from './names.ts';
import {
  REPLY_ERROR_MESSAGE,
  REPLY_ERROR_NAME,
  REQUEST_TIMEOUT_MS_MAX,
  ReplyInbox,
} from './request-reply.ts';
import { type RetryPolicy, retryPolicy } from './retry-policy.ts';
import { validate } from './schema.ts';
import { IN_FLIGHT_MAX, type Transport } from './transport.ts';
import { uuidv7 } from './uuid.ts';

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
}

/** A handler of a message with payload `T`. */
export type Handler<T> = (data: T, context: HandlerContext<T>) => Promise<void> | void;

/** Options of {@link Bus.stop}. */
export interface StopOptions {
  /** How long running handlers may take to finish (default 10 s); then their signals abort. */
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
   * subscriptions, then the transport (unless `ownsTransport: false`), passing it what is left of
   * `timeoutMs` as {@link TransportCloseOptions.timeoutMs}. Idempotent.
   */
  stop(options?: StopOptions): Promise<void>;
  /** List and redrive dead letters. */
  readonly deadLetters: DeadLetters;
  /** Counters since the bus was created. */
  stats(): Readonly<BusStats>;
}

/** Time handlers get after their signal aborts before the bus closes anyway. */
const ABORT_GRACE_MS = 1000;

/**
 * Creates a bus on `options.transport`.
 *
 * @example
 * const bus = createBus({ transport: memoryTransport(), source: '/shop/order' });
 * bus.on(OrderCreated, { group: 'inventory' }, async (order) => reserve(order));
 * await bus.start();
 * await bus.publish(OrderCreated, { orderId: 'o-1', total: 42 });
 */
export function createBus(options: BusOptions): Bus {
  if (options === undefined || options.transport === undefined) {
    throw new ConfigurationError(
      'createBus: no transport; pass { transport: memoryTransport() } for tests, or use createBus from ' +
        '"herald", which defaults to the embedded durable broker',
    );
  }
  return new HeraldBus(options);
}

type BusState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

class HeraldBus implements Bus, DispatcherHost {
  readonly transport: Transport;
  readonly source: string;
  readonly logger: Logger;
  readonly onUnknown: UnknownTypeAction;
  readonly #contracts = new Map<string, Contract>();
  readonly #dispatchers = new Map<string, Dispatcher>();
  readonly #commandHandlers = new Set<string>();
  readonly #middleware: readonly Middleware[];
  readonly #retry: RetryPolicy;
  readonly #deadLetterTopic: (topic: string) => string;
  readonly #instanceId = uuidv7();
  readonly #replies: ReplyInbox;
  readonly #idempotency: IdempotencyStore | undefined;
  readonly #handlerTimeoutMs: number;
  readonly counters: DispatchCounters & IdempotencyCounters & { published: number } = {
    handled: 0,
    failed: 0,
    deadLettered: 0,
    duplicatesSkipped: 0,
    published: 0,
  };
  readonly deadLetters: DeadLetters;
  #state: BusState = 'created';
  readonly #ownsTransport: boolean;
  #transportClosing = false;
  #stopped: Promise<void> | undefined;

  constructor(options: BusOptions) {
    this.transport = options.transport;
    this.source = options.source ?? `/herald/${hostname()}/${process.pid}`;
    this.logger = options.logger ?? consoleLogger();
    this.onUnknown = options.onUnknown ?? 'dead-letter';
    this.#ownsTransport = options.ownsTransport ?? true;
    this.#idempotency = options.idempotency;
    const dedup = this.#idempotency === undefined ? [] : [idempotency(this.#idempotency, this.counters)];
    this.#middleware = [logging, ...dedup, validation, ...(options.middleware ?? [])];
    this.#handlerTimeoutMs = checkTimeout(options.handlerTimeoutMs ?? 30_000, 'createBus: handlerTimeoutMs');
    this.#retry = retryPolicy(options.retry);
    this.#deadLetterTopic = options.deadLetterTopic ?? defaultDeadLetterTopic;
    this.#replies = new ReplyInbox(this.transport, this.#instanceId, this.logger);
    this.deadLetters = deadLetters(this.transport, this.#deadLetterTopic);
    for (const contract of options.contracts ?? []) this.#register(contract);
  }

  knowsType(type: string): boolean {
    return this.#contracts.has(type);
  }

  deadLetterTopic(topic: string): string {
    return this.#deadLetterTopic(topic);
  }

  async publish<C extends EventContract>(event: C, data: InputOf<C>, options?: PublishOptions) {
    this.#expectKind(event, 'event', 'publish');
    return this.#emit(event, data, options) as Promise<Envelope<PayloadOf<C>>>;
  }

  async send<C extends CommandContract>(command: C, data: InputOf<C>, options?: PublishOptions) {
    this.#expectKind(command, 'command', 'send');
    return this.#emit(command, data, options) as Promise<Envelope<PayloadOf<C>>>;
  }

  async request<Q extends QueryContract>(query: Q, data: InputOf<Q>, options: RequestOptions = {}) {
    this.#expectKind(query, 'query', 'request');
    const timeoutMs = options.timeoutMs ?? 5000;
    if (!(timeoutMs > 0 && timeoutMs <= REQUEST_TIMEOUT_MS_MAX)) {
      throw new ConfigurationError(
        `request: timeoutMs must be in (0, ${REQUEST_TIMEOUT_MS_MAX}], got ${timeoutMs}`,
      );
    }
    this.#assertOpen('request');
    await this.#replies.ready();
    const id = options.id ?? uuidv7();
    const reply = this.#replies.expect(id, query.type, timeoutMs);
    try {
      await this.#emit(query, data, { ...options, id }, { replyto: this.#replies.topic });
    } catch (error) {
      this.#replies.cancel(id);
      throw error;
    }
    const envelope = await reply;
    return validate(query.result, envelope.data, `reply to "${query.type}" ${id}`) as Promise<ResultOf<Q>>;
  }

  on<C extends EventContract>(
    event: C,
    options: SubscribeHandlerOptions,
    handler: Handler<PayloadOf<C>>,
  ): this {
    this.#expectKind(event, 'event', 'on');
    if (options === undefined || typeof options.group !== 'string') {
      throw new ConfigurationError(
        `on(${event.type}): pass { group: "<consumer group>" } as the second argument`,
      );
    }
    this.#addHandler(event, options.group, options, handler as Handler<unknown>);
    return this;
  }

  handle<C extends CommandContract>(
    command: C,
    handler: Handler<PayloadOf<C>>,
    options: HandlerOptions = {},
  ): this {
    this.#expectKind(command, 'command', 'handle');
    if (this.#commandHandlers.has(command.type)) {
      throw new ConfigurationError(
        `handle(${command.type}): this bus already has a handler for the command; a command has exactly one handler`,
      );
    }
    this.#commandHandlers.add(command.type);
    this.#addHandler(command, command.type, options, handler as Handler<unknown>);
    return this;
  }

  reply<Q extends QueryContract>(
    query: Q,
    handler: (
      data: PayloadOf<Q>,
      context: HandlerContext<PayloadOf<Q>>,
    ) => Promise<ResultOf<Q>> | ResultOf<Q>,
    options: HandlerOptions = {},
  ): this {
    this.#expectKind(query, 'query', 'reply');
    if (this.#commandHandlers.has(query.type)) {
      throw new ConfigurationError(`reply(${query.type}): this bus already has a replier for the query`);
    }
    this.#commandHandlers.add(query.type);
    const answer: Handler<unknown> = async (data, context) => {
      const replyTo = context.envelope.replyto;
      if (replyTo === undefined) {
        context.logger.warn('query without replyto attribute; nobody to answer', { id: context.envelope.id });
        return;
      }
      let result: unknown;
      let failure: Error | undefined;
      try {
        result = await validate(
          query.result,
          await handler(data as PayloadOf<Q>, context as HandlerContext<PayloadOf<Q>>),
          `result of "${query.type}"`,
        );
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
      }
      const extensions: Record<string, string> =
        failure === undefined
          ? {}
          : { [REPLY_ERROR_NAME]: failure.name, [REPLY_ERROR_MESSAGE]: failure.message };
      await this.#publishReply(replyTo, query, result ?? null, context.envelope, extensions);
    };
    // Queries travel as commands: one replier group, same pipeline.
    this.#addHandler(query as unknown as CommandContract, query.type, options, answer);
    return this;
  }

  async start(): Promise<void> {
    if (this.#state !== 'created')
      throw new ConfigurationError(`start: the bus is ${this.#state}; start it once`);
    this.#state = 'starting';
    try {
      for (const dispatcher of this.#dispatchers.values()) await dispatcher.start();
    } catch (error) {
      this.#state = 'started';
      await this.stop();
      throw error;
    }
    this.#state = 'started';
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.#stopped ??= this.#stop(options.timeoutMs ?? 10_000);
    return this.#stopped;
  }

  stats(): Readonly<BusStats> {
    return { ...this.counters, lateReplies: this.#replies.lateReplies };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#state = 'stopping';
    const deadlineMs = performance.now() + timeoutMs;
    await Promise.all(
      [...this.#dispatchers.values()].map((dispatcher) => dispatcher.stop(deadlineMs, ABORT_GRACE_MS)),
    );
    await this.#replies.close(new ClosedError('bus'));
    this.#transportClosing = true;
    // The transport's broker waits (a last commit, leaving a group) get what is left of the
    // caller's budget, so stop() stays near its timeoutMs whatever the handlers took.
    const leftMs = Math.max(0, deadlineMs - performance.now());
    if (this.#ownsTransport) await this.transport.close({ timeoutMs: leftMs });
    await this.#idempotency?.close();
    this.#state = 'stopped';
  }

  async publishCaused(
    contract: EventContract | CommandContract,
    data: unknown,
    cause: Envelope,
    options: PublishOptions | undefined,
  ): Promise<void> {
    await this.#emit(contract, data, {
      traceparent: cause.traceparent,
      ...options,
      correlationId: options?.correlationId ?? cause.correlationid ?? cause.id,
      causationId: options?.causationId ?? cause.id,
    });
  }

  async #publishReply(
    topic: string,
    query: QueryContract,
    result: unknown,
    request: Envelope,
    extensions: Record<string, string>,
  ): Promise<void> {
    const envelope: Envelope = {
      specversion: '1.0',
      id: uuidv7(),
      source: this.source,
      type: `${query.type}.reply`,
      time: isoNow(),
      datacontenttype: 'application/json',
      correlationid: request.correlationid ?? request.id,
      causationid: request.id,
      traceparent: request.traceparent,
      dataversion: 1,
      extensions,
      data: result,
    };
    await this.transport.publish(topic, [encodeEnvelope(envelope)]);
  }

  async #emit(
    contract: Contract,
    input: unknown,
    options: PublishOptions = {},
    attributes: { replyto?: string } = {},
  ): Promise<Envelope> {
    this.#assertOpen(contract.kind === 'command' ? 'send' : 'publish');
    this.#register(contract);
    const data = await validate(contract.schema, input, `"${contract.type}" payload`);
    const id = options.id ?? uuidv7();
    const key = options.key ?? (contract.key as ((value: unknown) => string) | undefined)?.(data);
    const subject = options.subject ?? (contract.subject as ((value: unknown) => string) | undefined)?.(data);
    const envelope: Envelope = {
      specversion: '1.0',
      id,
      source: this.source,
      type: contract.type,
      time: isoNow(),
      datacontenttype: 'application/json',
      subject,
      partitionkey: key,
      correlationid: options.correlationId ?? id,
      causationid: options.causationId,
      traceparent: options.traceparent,
      dataversion: contract.version,
      replyto: attributes.replyto,
      extensions: { ...(options.extensions ?? {}) },
      data,
    };
    await this.transport.publish(contract.topic, [encodeEnvelope(envelope)]);
    this.counters.published += 1;
    return envelope;
  }

  #addHandler(
    contract: EventContract | CommandContract,
    group: string,
    options: HandlerOptions,
    handler: Handler<unknown>,
  ): void {
    const context = `${contract.kind === 'event' ? 'on' : 'handle'}(${contract.type})`;
    if (this.#state !== 'created') {
      throw new ConfigurationError(`${context}: register handlers before bus.start()`);
    }
    assertName(group, 'group', context);
    assertTopicName(this.#deadLetterTopic(contract.topic), `${context} dead-letter topic`);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > IN_FLIGHT_MAX) {
      throw new ConfigurationError(`${context}: concurrency must be an integer from 1 to ${IN_FLIGHT_MAX}`);
    }
    this.#register(contract);
    const dispatcherKey = `${contract.topic}\u0000${group}`;
    let dispatcher = this.#dispatchers.get(dispatcherKey);
    if (dispatcher === undefined) {
      dispatcher = new Dispatcher(this, contract.topic, group, concurrency);
      this.#dispatchers.set(dispatcherKey, dispatcher);
    }
    if (dispatcher.has(contract.type)) {
      throw new ConfigurationError(
        `${context}: group "${group}" already handles "${contract.type}"; combine the handlers or use another group`,
      );
    }
    const middleware = [...this.#middleware, ...(options.middleware ?? [])];
    dispatcher.add({
      contract,
      timeoutMs: checkTimeout(options.timeoutMs ?? this.#handlerTimeoutMs, `${context}: timeoutMs`),
      retry: options.retry === undefined ? this.#retry : retryPolicy({ ...this.#retry, ...options.retry }),
      run: pipeline(middleware, handler as (data: unknown, context: unknown) => unknown),
    });
  }

  #register(contract: Contract): void {
    const known = this.#contracts.get(contract.type);
    if (known === undefined) {
      this.#contracts.set(contract.type, contract);
    } else if (known !== contract) {
      throw new ConfigurationError(
        `two different contracts have type "${contract.type}"; define each type once and import it everywhere`,
      );
    }
  }

  #expectKind(contract: Contract, kind: Contract['kind'], method: string): void {
    if (contract === undefined || contract === null || contract.kind !== kind) {
      const got = contract?.kind ?? String(contract);
      throw new ConfigurationError(`${method}() takes a contract from define${capital(kind)}(), got ${got}`);
    }
  }

  #assertOpen(method: string): void {
    // While stopping, draining handlers still publish their follow-ups; only a stopped bus refuses.
    if (this.#state === 'stopped' || this.#transportClosing) throw new ClosedError(`bus (${method})`);
  }
}

/** The millisecond whose ISO text is in {@link lastTimeText}. */
let lastTimeMs = Number.NaN;
let lastTimeText = '';

/**
 * `new Date().toISOString()`, formatted once per millisecond: formatting costs about ten times
 * reading the clock, and a busy bus stamps many events within one millisecond.
 */
function isoNow(): string {
  const nowMs = Date.now();
  if (nowMs !== lastTimeMs) {
    lastTimeMs = nowMs;
    lastTimeText = new Date(nowMs).toISOString();
  }
  return lastTimeText;
}

function checkTimeout(timeoutMs: number, what: string): number {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= HANDLER_TIMEOUT_MS_MAX)) {
    throw new ConfigurationError(`${what} must be in (0, ${HANDLER_TIMEOUT_MS_MAX}] ms, got ${timeoutMs}`);
  }
  return timeoutMs;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
