/**
 * `createBus()`: the typed API applications use. It validates and wraps payloads in CloudEvents
 * envelopes, publishes them through a {@link Transport}, and runs handlers behind a middleware
 * pipeline with retries and dead-lettering. {@link Bus} and its options are in `bus-api.ts`.
 */
import { hostname } from 'node:os';
import type { Context } from '@opentelemetry/api';
import { Announcer } from './announcements.ts';
import type {
  Bus,
  BusOptions,
  BusStats,
  Handler,
  HandlerOptions,
  RequestOptions,
  StopOptions,
  SubscribeHandlerOptions,
} from './bus-api.ts';
import {
  type BusCounters,
  checkTimeout,
  expectKind,
  registerContract,
  requireTransport,
  subscriptionTopic,
  zeroCounters,
} from './bus-checks.ts';
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
  type UnknownTypeAction,
} from './dispatcher.ts';
import { type Envelope, encodeEnvelope } from './envelope.ts';
import { ClosedError, ConfigurationError } from './errors.ts';
import { type BusHealth, BusHealthRecorder, type BusState, type HealthError } from './health.ts';
import type { IdempotencyStore } from './idempotency.ts';
import { consoleLogger, type Logger } from './logger.ts';
import type { BusMetrics } from './metrics.ts';
import { type IdempotencyCounters, idempotency } from './middleware/idempotency.ts';
import { logging } from './middleware/logging.ts';
import { validation } from './middleware/validation.ts';
import { assertName, assertTopicName } from './names.ts';
import { type OutboxTransaction, outboxTransaction, requireOutbox, withStaging } from './outbox.ts';
import { type OutboxRelay, outboxRelayOf } from './outbox-relay.ts';
import { isoNow, measuredPublish, replier } from './outgoing.ts';
import { pipeline } from './pipeline.ts';
import { checkRequestTimeout, ReplyInbox } from './request-reply.ts';
import { type RetryPolicy, retryPolicy } from './retry-policy.ts';
import { BusScheduling } from './schedule/bus-scheduling.ts';
import { validate, validatePayloadNow } from './schema.ts';
import { endSpan, messagingSystem, type SendCause, sendCause, startSendFrom } from './tracing.ts';
import { type CancelOutcome, IN_FLIGHT_MAX, type Transport } from './transport.ts';
import { uuidv7, uuidv7At } from './uuid.ts';

/** Time handlers get after their signal aborts before the bus closes anyway. */
const ABORT_GRACE_MS = 1000;

/**
 * Least time closing the subscriptions and the transport may wait on the broker (a last commit of
 * acked messages) when handlers used up the stop timeout; within it they get what is left.
 */
const CLOSE_TIMEOUT_MS_MIN = 1000;

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
  return new HeraldBus(requireTransport(options));
}

class HeraldBus implements Bus, DispatcherHost {
  readonly transport: Transport;
  readonly source: string;
  readonly logger: Logger;
  readonly onUnknown: UnknownTypeAction;
  readonly metrics: BusMetrics | undefined;
  readonly #contracts = new Map<string, Contract>();
  readonly #dispatchers = new Map<string, Dispatcher>();
  readonly #commandHandlers = new Set<string>();
  readonly #middleware: readonly Middleware[];
  readonly #retry: RetryPolicy;
  readonly #deadLetterTopic: (topic: string) => string;
  readonly #instanceId = uuidv7();
  readonly #replies: ReplyInbox;
  readonly #idempotency: IdempotencyStore | undefined;
  readonly #relay: OutboxRelay | undefined;
  readonly #handlerTimeoutMs: number;
  /** `messaging.system` of the spans (from the transport's name). */
  readonly #system: string;
  readonly counters: BusCounters = zeroCounters();
  readonly deadLetters: DeadLetters;
  #state: BusState = 'created';
  readonly #ownsTransport: boolean;
  #transportClosing = false;
  #stopped: Promise<void> | undefined;
  readonly #health = new BusHealthRecorder();
  readonly #scheduling: BusScheduling;
  /** Announces this bus on `herald.services` (see announcements.ts); undefined with `announce: false`. */
  readonly #announcer: Announcer | undefined;

  constructor(options: BusOptions) {
    this.transport = options.transport;
    this.source = options.source ?? `/herald/${hostname()}/${process.pid}`;
    this.logger = options.logger ?? consoleLogger();
    this.onUnknown = options.onUnknown ?? 'dead-letter';
    this.metrics = options.metrics;
    this.#ownsTransport = options.ownsTransport ?? true;
    this.#scheduling = new BusScheduling(this.transport, this.logger, options.runScheduler ?? true);
    this.#system = messagingSystem(this.transport.name);
    this.#idempotency = options.idempotency;
    const dedup =
      this.#idempotency === undefined ? [] : [idempotency(this.#idempotency, this.counters, this.source)];
    this.#middleware = [logging, ...dedup, validation, ...(options.middleware ?? [])];
    this.#handlerTimeoutMs = checkTimeout(options.handlerTimeoutMs ?? 30_000, 'createBus: handlerTimeoutMs');
    this.#retry = retryPolicy(options.retry);
    this.#deadLetterTopic = options.deadLetterTopic ?? defaultDeadLetterTopic;
    this.#replies = new ReplyInbox(this.transport, this.#instanceId, this.logger, {
      system: this.#system,
      source: this.source,
    });
    this.deadLetters = deadLetters(this.transport, this.#deadLetterTopic, this.source);
    for (const contract of options.contracts ?? []) registerContract(this.#contracts, contract);
    this.#relay = outboxRelayOf(this.#idempotency, options.outboxRelay, this);
    const { transport, source, logger } = this;
    const announcerHost = { transport, source, logger, instanceId: this.#instanceId };
    this.#announcer =
      options.announce === false ? undefined : new Announcer(announcerHost, options.announce ?? {});
  }

  knowsType(type: string): boolean {
    return this.#contracts.has(type);
  }

  deadLetterTopic(topic: string): string {
    return this.#deadLetterTopic(topic);
  }

  publish<C extends EventContract>(event: C, data: InputOf<C>, options?: PublishOptions) {
    return this.#emitChecked(event, 'event', data, options) as Promise<Envelope<PayloadOf<C>>>;
  }

  send<C extends CommandContract>(command: C, data: InputOf<C>, options?: PublishOptions) {
    return this.#emitChecked(command, 'command', data, options) as Promise<Envelope<PayloadOf<C>>>;
  }

  /** Not `async`: an async frame around #emitEnvelope's promise cost a promise and two ticks a message. */
  #emitChecked(contract: Contract, kind: 'event' | 'command', data: unknown, options?: PublishOptions) {
    try {
      expectKind(contract, kind, kind === 'event' ? 'publish' : 'send');
      return this.#emit(contract, data, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async cancelScheduled(id: string): Promise<CancelOutcome> {
    this.#assertOpen('cancelScheduled');
    return this.#scheduling.cancel(id);
  }

  async request<Q extends QueryContract>(query: Q, data: InputOf<Q>, options: RequestOptions = {}) {
    expectKind(query, 'query', 'request');
    BusScheduling.refuseScheduledQuery(options, query.type);
    const timeoutMs = checkRequestTimeout(options.timeoutMs ?? 5000);
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
    expectKind(event, 'event', 'on');
    if (options === undefined || typeof options.group !== 'string') {
      throw new ConfigurationError(
        `on(${event.type}): pass { group: "<consumer group>" } as the second argument`,
      );
    }
    this.#addHandler(event, options.group, options, handler as Handler<unknown>, options.topicPattern);
    return this;
  }

  handle<C extends CommandContract>(
    command: C,
    handler: Handler<PayloadOf<C>>,
    options: HandlerOptions = {},
  ): this {
    expectKind(command, 'command', 'handle');
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
    expectKind(query, 'query', 'reply');
    if (this.#commandHandlers.has(query.type)) {
      throw new ConfigurationError(`reply(${query.type}): this bus already has a replier for the query`);
    }
    this.#commandHandlers.add(query.type);
    const sender = { transport: this.transport, source: this.source, system: this.#system };
    const answer = replier(
      query,
      handler as (data: unknown, context: HandlerContext<unknown>) => unknown,
      sender,
    );
    // Queries travel as commands: one replier group, same pipeline.
    this.#addHandler(query as unknown as CommandContract, query.type, options, answer);
    return this;
  }

  async start(): Promise<void> {
    if (this.#state !== 'created')
      throw new ConfigurationError(`start: the bus is ${this.#state}; start it once`);
    this.#state = 'starting';
    try {
      // Before any delivery: the first handlers must not wait for the store's connections and
      // threads (measured: the SQLite store's first `remember` took 39 ms to start its writer).
      // A bus without handlers never uses them, so it opens nothing (its store stays lazy).
      if (this.#dispatchers.size > 0) await this.#idempotency?.open?.();
      for (const dispatcher of this.#dispatchers.values()) await dispatcher.start();
      this.#relay?.start();
      await this.#scheduling.start();
      await this.#announcer?.start();
    } catch (error) {
      this.#health.startFailed(error);
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

  health(): BusHealth {
    const subscriptions = [...this.#dispatchers.values()].map((dispatcher) => dispatcher.health());
    return this.#health.report(this.#state, this.transport, subscriptions);
  }

  /** Remembers the latest failure of a dispatcher for `health()`. */
  noteError(error: HealthError): void {
    this.#health.note(error);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#state = 'stopping';
    const deadlineMs = performance.now() + timeoutMs;
    // Said at once, so readers see it stopping while it drains; awaited before the transport closes.
    const leaving = this.#announcer?.stop(timeoutMs);
    // The scheduler's subscription closes beside the handlers': a dead broker costs the budget once.
    const [closeDeadlinesMs] = await Promise.all([
      Promise.all(
        [...this.#dispatchers.values()].map((dispatcher) =>
          dispatcher.stop(deadlineMs, ABORT_GRACE_MS, CLOSE_TIMEOUT_MS_MIN),
        ),
      ),
      this.#scheduling.stop(timeoutMs),
    ]);
    await this.#replies.close(new ClosedError('bus'));
    // After the handlers drained (their commits may have staged rows), before the transport closes.
    await this.#relay?.stop();
    // Waits on the broker (a last commit, leaving a group) get what is left of the caller's
    // budget, or at least CLOSE_TIMEOUT_MS_MIN after handlers overran it, so stop() ends near its
    // timeoutMs whatever the broker does.
    const closeDeadlineMs = Math.max(
      deadlineMs,
      performance.now() + CLOSE_TIMEOUT_MS_MIN,
      ...closeDeadlinesMs,
    );
    await leaving;
    this.#transportClosing = true;
    const leftMs = Math.max(0, closeDeadlineMs - performance.now());
    if (this.#ownsTransport) await this.transport.close({ timeoutMs: leftMs });
    await this.#idempotency?.close();
    this.#state = 'stopped';
  }

  outbox<Transaction>(transaction: Transaction): OutboxTransaction<Transaction> {
    return withStaging(transaction, requireOutbox(this.#idempotency, 'outbox'), this.source);
  }

  transaction<T, Transaction = unknown>(
    work: (transaction: OutboxTransaction<Transaction>) => Promise<T>,
  ): Promise<T> {
    return outboxTransaction(requireOutbox(this.#idempotency, 'transaction'), this.source, work);
  }

  contractOf(type: string): Contract | undefined {
    return this.#contracts.get(type);
  }

  async publishCaused(
    contract: EventContract | CommandContract,
    data: unknown,
    cause: Envelope,
    options: PublishOptions | undefined,
    traceContext?: Context,
  ): Promise<void> {
    await this.#emit(
      contract,
      data,
      {
        // Without the handler run's trace context, the cause's own context is the parent.
        ...(traceContext === undefined ? { traceparent: cause.traceparent } : {}),
        ...options,
        correlationId: options?.correlationId ?? cause.correlationid ?? cause.id,
        causationId: options?.causationId ?? cause.id,
      },
      {},
      sendCause(traceContext, cause),
    );
  }

  /** Not `async`: an async frame returning #emitEnvelope's promise cost a promise and ticks a message. */
  #emit(
    contract: Contract,
    input: unknown,
    options: PublishOptions = {},
    attributes: { replyto?: string } = {},
    cause?: SendCause,
  ): Promise<Envelope> {
    this.#assertOpen(contract.kind === 'command' ? 'send' : 'publish');
    registerContract(this.#contracts, contract);
    const startedMs = this.metrics === undefined ? 0 : performance.now();
    const sent = this.#emitEnvelope(contract, input, options, attributes, cause);
    return this.metrics === undefined ? sent : measuredPublish(this.metrics, contract, sent, startedMs);
  }

  async #emitEnvelope(
    contract: Contract,
    input: unknown,
    options: PublishOptions,
    attributes: { replyto?: string },
    cause: SendCause | undefined,
  ): Promise<Envelope> {
    const { scheduler, atMs } = this.#scheduling.timing(options, 'publish');
    const validated = validatePayloadNow(contract.schema, input, contract.type);
    const data = validated instanceof Promise ? await validated : validated;
    // One clock read for the id and the time (each read cost about 50 ns).
    const nowMs = Date.now();
    const id = options.id ?? uuidv7At(nowMs);
    const key = options.key ?? (contract.key as ((value: unknown) => string) | undefined)?.(data);
    const subject = options.subject ?? (contract.subject as ((value: unknown) => string) | undefined)?.(data);
    const correlationId = options.correlationId ?? id;
    const sent = startSendFrom(
      {
        system: this.#system,
        source: options.source ?? this.source,
        topic: contract.topic,
        id,
        type: contract.type,
        key,
        correlationId,
      },
      options,
      cause,
    );
    const extensions: Record<string, string> =
      options.extensions === undefined ? {} : { ...options.extensions };
    if (sent.tracestate !== undefined) extensions.tracestate = sent.tracestate;
    const envelope: Envelope = {
      specversion: '1.0',
      id,
      source: options.source ?? this.source,
      type: contract.type,
      time: isoNow(nowMs),
      datacontenttype: 'application/json',
      subject,
      partitionkey: key,
      correlationid: correlationId,
      causationid: options.causationId,
      // A malformed traceparent starts no trace; it still travels as given, as it always did.
      traceparent: sent.traceparent ?? options.traceparent ?? cause?.traceparent,
      dataversion: contract.version,
      replyto: attributes.replyto,
      extensions,
      data,
    };
    // The span ends here rather than through `endWhenSettled`: its two closures and extra promise
    // per message showed in the profile of the traced rows.
    try {
      const message = encodeEnvelope(envelope);
      // A time already past is due now: published at once, like an unscheduled message.
      if (scheduler !== undefined && atMs! > Date.now())
        await scheduler.schedule(contract.topic, message, atMs!);
      else await this.transport.publish(contract.topic, [message]);
    } catch (error) {
      endSpan(sent.span, error);
      this.#health.publishFailed(contract.topic, error);
      throw error;
    }
    sent.span.end();
    this.#health.published();
    this.#announcer?.published(contract);
    this.counters.published += 1;
    if (this.logger.isLevelEnabled?.('debug') ?? true) {
      this.logger.debug({ type: envelope.type, id, topic: contract.topic, key }, 'published');
    }
    return envelope;
  }

  #addHandler(
    contract: EventContract | CommandContract,
    group: string,
    options: HandlerOptions,
    handler: Handler<unknown>,
    topicPattern?: string,
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
    const topic = subscriptionTopic(contract, topicPattern, this.transport, context);
    registerContract(this.#contracts, contract);
    this.#announcer?.handler(topic, group, contract.type);
    const dispatcherKey = `${topic}\u0000${group}`;
    let dispatcher = this.#dispatchers.get(dispatcherKey);
    if (dispatcher === undefined) {
      dispatcher = new Dispatcher(this, topic, group, concurrency);
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

  #assertOpen(method: string): void {
    // While stopping, draining handlers still publish their follow-ups; only a stopped bus refuses.
    if (this.#state === 'stopped' || this.#transportClosing) throw new ClosedError(`bus (${method})`);
  }
}
