/**
 * One dispatcher per (topic, consumer group) in a bus: it holds the group's handlers by event
 * type, subscribes once, and turns each delivery into exactly one outcome — ack after success,
 * nack with backoff for a retriable failure, or dead-letter (then ack) when retrying cannot help.
 */
import { context as otelContext, type Span } from '@opentelemetry/api';
import type { CommandContract, EventContract } from './contracts.ts';
import {
  DEAD_LETTER_HEADERS,
  type DeadLetterReason,
  deadLetterMessage,
  TARGET_GROUP_HEADER,
} from './dead-letter.ts';
import { DeadlineSweep } from './deadline-sweep.ts';
import { HANDLED } from './delivered-message.ts';
import { decodeEnvelope, type Envelope } from './envelope.ts';
import { DecodeError, HeraldError, isUnrecoverable, UnrecoverableError, ValidationError } from './errors.ts';
import {
  type ContextHost,
  coordinates,
  type DispatchCounters,
  type InFlight,
  messageContext,
  positionOf,
  type UnknownTypeAction,
  waitAll,
  withTimeout,
} from './handler-run.ts';
import { type HealthError, healthError, type SubscriptionHealth, type SubscriptionState } from './health.ts';
import type { BusMetrics, HandlerOutcome } from './metrics.ts';
import { PendingAcks } from './pending-acks.ts';
import type { PipelineRun } from './pipeline.ts';
import { type RetryPolicy, retryDelayMs } from './retry-policy.ts';
import { isTopicPattern } from './topic-pattern.ts';
import { endOnceSettled, messagingSystem, recordDeadLetter, recordFailure, startProcess } from './tracing.ts';
import type { ReceivedMessage, Subscription, Transport } from './transport.ts';

export type { DispatchCounters, UnknownTypeAction };
/** What the dispatcher needs from its bus (its logger and `publishCaused` for handlers' contexts). */
export interface DispatcherHost extends ContextHost {
  readonly transport: Transport;
  /** The bus's CloudEvents source, on its spans. */
  readonly source: string;
  /** True when some contract of the bus has this type. */
  knowsType(type: string): boolean;
  /** What to do with a message of a type no contract knows. */
  readonly onUnknown: UnknownTypeAction;
  /** The dead-letter topic of a topic. */
  deadLetterTopic(topic: string): string;
  /** Counters the dispatcher updates (see `Bus.stats`). */
  readonly counters: DispatchCounters;
  /** The metrics hook, if the bus has one. */
  readonly metrics: BusMetrics | undefined;
  /** Remembers a failure for `bus.health()`. */
  noteError(error: HealthError): void;
}

/** One handler registered in a dispatcher. */
export interface Registration {
  readonly contract: EventContract | CommandContract;
  readonly run: PipelineRun;
  readonly retry: RetryPolicy;
  /** A handler still running after this long is aborted and counted as a failed attempt. */
  readonly timeoutMs: number;
}

/** Messages whose first failure time is remembered at once (for the dead-letter headers). */
const FIRST_FAILURES_MAX = 10_000;

/** Delivers one topic's messages for one group to the matching handlers. */
export class Dispatcher {
  readonly topic: string;
  readonly group: string;
  readonly #host: DispatcherHost;
  readonly #handlers = new Map<string, Registration>();
  readonly #inFlight = new Set<InFlight>();
  /** The in-flight entry #awaitHandler made for the run #process returns, for #receive to take. */
  #tracked: InFlight | undefined;
  /** Deliveries in a synchronous part of their run (nested when a handler delivers, e.g. in tests). */
  #runningNow = 0;
  readonly #concurrency: number;
  /** First failure time per message position, while the message is being retried. */
  readonly #firstFailureMs = new Map<string, number>();
  #subscription: Subscription | undefined;
  #stopping = false;
  #state: SubscriptionState = 'idle';
  #lastError: HealthError | undefined;
  /** `messaging.system` of this dispatcher's spans. */
  readonly #system: string;
  /** Whether {@link topic} is a pattern, whose matches may include dead-letter topics. */
  readonly #pattern: boolean;
  /** The handler runs' timeouts: one timer for all of them, not one per message. */
  readonly #deadlines = new DeadlineSweep();
  /** Acks of handled messages not settled yet: counted, not awaited per message. */
  readonly #acks = new PendingAcks<ReceivedMessage>((error, message, acks) =>
    this.#settleFailed(message, error, acks),
  );

  constructor(host: DispatcherHost, topic: string, group: string, concurrency: number) {
    this.#host = host;
    this.topic = topic;
    this.group = group;
    this.#concurrency = concurrency;
    this.#system = messagingSystem(host.transport.name);
    this.#pattern = isTopicPattern(topic);
  }

  /** The handler registered for `type`, if any. */
  has(type: string): boolean {
    return this.#handlers.has(type);
  }

  /** Registers a handler; the caller has checked there is none for its type yet. */
  add(registration: Registration): void {
    this.#handlers.set(registration.contract.type, registration);
  }

  /** Subscribes; deliveries start once this resolves. */
  async start(): Promise<void> {
    this.#state = 'subscribing';
    try {
      this.#subscription = await this.#host.transport.subscribe(
        {
          topic: this.topic,
          group: this.group,
          inFlightMax: this.#concurrency,
          types: [...this.#handlers.keys()],
        },
        (message) => this.#receive(message),
      );
    } catch (error) {
      this.#state = 'failed';
      this.#noteError('subscribe', error);
      throw error;
    }
    this.#state = 'active';
  }

  /** This subscription's state, for `bus.health()`. */
  health(): SubscriptionHealth {
    return {
      topic: this.topic,
      group: this.group,
      state: this.#state,
      inFlight: this.#inFlight.size + this.#runningNow,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  #noteError(what: string, error: unknown): void {
    this.#lastError = healthError(`${what} ${this.topic}/${this.group}`, error);
    this.#host.noteError(this.#lastError);
  }

  /**
   * Stops taking new messages, waits for running handlers and pending acks until `deadlineMs`
   * (then aborts the handlers' signals and waits `graceMs` more), and closes the subscription,
   * which may wait on its broker until `deadlineMs` but at least `closeTimeoutMsMin` (a
   * `performance.now()` time is returned: the close deadline it used). Messages not finished are left unsettled, so the transport
   * redelivers them to the group.
   */
  async stop(deadlineMs: number, graceMs: number, closeTimeoutMsMin: number): Promise<number> {
    this.#stopping = true;
    if (this.#state !== 'failed') this.#state = 'stopping';
    const drained = await waitAll(this.#inFlight, deadlineMs);
    if (!drained) {
      for (const entry of this.#inFlight)
        entry.controller.abort(new Error('bus stopping: drain deadline passed'));
      await waitAll(this.#inFlight, performance.now() + graceMs);
    }
    await this.#acks.settled(drained ? deadlineMs : performance.now() + graceMs);
    const closeDeadlineMs = Math.max(deadlineMs, performance.now() + closeTimeoutMsMin);
    await this.#subscription?.close({ timeoutMs: Math.max(0, closeDeadlineMs - performance.now()) });
    if (this.#state !== 'failed') this.#state = 'closed';
    return closeDeadlineMs;
  }

  #receive(message: ReceivedMessage): Promise<void> {
    // While stopping, leave new deliveries unsettled: closing the subscription returns them.
    // HANDLED (fulfilled, shared): the delivery window attaches no rejection reaction to it.
    if (this.#stopping) return HANDLED;
    const controller = new AbortController();
    let running: Promise<void> | undefined;
    // Counted, not put in the in-flight set, while it runs synchronously: nothing can wait for it
    // or abort it before it returns (one object and two Set updates less per message).
    this.#runningNow += 1;
    try {
      running = this.#process(message, controller);
    } catch (error) {
      this.#settleFailed(message, error);
    } finally {
      this.#runningNow -= 1;
    }
    // Handled (or settled) before #process returned: no promise and no async frame for it.
    if (running === undefined) return HANDLED;
    // A handler run awaited by #awaitHandler: in the in-flight set already, and never rejects.
    const tracked = this.#tracked;
    if (tracked !== undefined) {
      this.#tracked = undefined;
      tracked.done = running;
      return running;
    }
    const entry: InFlight = { done: HANDLED, controller };
    this.#inFlight.add(entry);
    entry.done = this.#finish(running, message, entry);
    return entry.done;
  }

  /** Awaits a delivery that went asynchronous; never rejects (what `stop()` waits for), and leaves the in-flight set. */
  async #finish(running: Promise<void>, message: ReceivedMessage, entry: InFlight): Promise<void> {
    try {
      await running;
    } catch (error) {
      this.#settleFailed(message, error);
    } finally {
      this.#inFlight.delete(entry);
    }
  }

  /** `acks`: settlements that failed together (acks sharing one transport write), `message` the first. */
  #settleFailed(message: ReceivedMessage, error: unknown, acks = 1): void {
    this.#noteError('settle', error);
    this.#host.logger.error(
      { ...coordinates(message, this.group), ...(acks > 1 ? { acks } : {}), error: String(error) },
      'dispatcher failed to settle a message; it will be redelivered',
    );
  }

  /**
   * Processes a delivery: `undefined` when it was handled and its ack called before returning (a
   * handler that finished synchronously, the catch-up case), else a promise of the outcome. Throws
   * or rejects only when settling failed.
   */
  #process(message: ReceivedMessage, controller: AbortController): Promise<void> | undefined {
    // A pattern such as `orders.>` also matches `orders.x.dlq`: handling its dead letters again
    // would fail them again, into `orders.x.dlq.dlq`. Dead letters are for `bus.deadLetters`.
    if (this.#pattern && message.headers[DEAD_LETTER_HEADERS.reason] !== undefined) return message.ack();
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message);
    } catch (error) {
      return this.#deadLetterTraced(message, undefined, 'undecodable', error);
    }
    const target = message.headers[TARGET_GROUP_HEADER];
    // A redriven message is meant for the group that dead-lettered it; the others had it already.
    if (target !== undefined && target !== this.group) return message.ack();
    const registration = this.#handlers.get(envelope.type);
    if (registration === undefined) return this.#unmatched(message, envelope);
    // One CONSUMER span per handler run, ended once the message is settled (inline, not a
    // helper: another async frame per message costs more than the no-op spans).
    const traced = startProcess(this.#system, this.#host.source, this.group, message, envelope);
    const metrics = this.#host.metrics;
    const startedMs = metrics === undefined ? 0 : performance.now();
    let work: Promise<void> | undefined;
    try {
      metrics?.handlerStarted(this.topic, this.group, envelope.type);
      const context = messageContext(
        this.#host,
        this.group,
        registration.contract,
        message,
        envelope,
        controller.signal,
        traced.context,
      );
      try {
        // The handler runs in its span's context, so spans it starts (a database call, an HTTP
        // request, a publish) are children of it when the SDK has a context manager.
        work = otelContext.with(traced.context, registration.run, undefined, context);
      } catch (error) {
        return this.#handlerFailed(
          message,
          registration,
          envelope,
          error,
          controller.signal,
          traced.span,
          startedMs,
        );
      }
    } catch (error) {
      traced.span.end();
      throw error;
    }
    // A run that finished before returning cannot overrun its timeout: no deadline, no await.
    if (work === undefined) return this.#handled(message, envelope, traced.span, startedMs);
    return this.#awaitHandler(work, message, registration, envelope, controller, traced.span, startedMs);
  }

  /**
   * The end of a handler run that returned a promise: within its timeout, then as {@link #handled}.
   * It does #finish's part too (one async frame per message, not two): never rejects, and keeps
   * its delivery in the in-flight set (put there before its first await) until settled.
   */
  async #awaitHandler(
    work: Promise<void>,
    message: ReceivedMessage,
    registration: Registration,
    envelope: Envelope,
    controller: AbortController,
    span: Span,
    startedMs: number,
  ): Promise<void> {
    const timed = withTimeout(work, registration.timeoutMs, controller, envelope, this.#deadlines);
    const entry: InFlight = { done: HANDLED, controller };
    this.#inFlight.add(entry);
    this.#tracked = entry;
    try {
      try {
        await timed;
      } catch (error) {
        const { signal } = controller;
        return await this.#handlerFailed(message, registration, envelope, error, signal, span, startedMs);
      }
      this.#handled(message, envelope, span, startedMs);
    } catch (error) {
      this.#settleFailed(message, error);
    } finally {
      this.#inFlight.delete(entry);
    }
  }

  /** A failed handler run: counted, then retried or dead-lettered ({@link #failed}); ends `span`. */
  async #handlerFailed(
    message: ReceivedMessage,
    registration: Registration,
    envelope: Envelope,
    error: unknown,
    signal: AbortSignal,
    span: Span,
    startedMs: number,
  ): Promise<void> {
    try {
      this.#host.counters.failed += 1;
      this.#ended(envelope, 'failed', startedMs);
      return await this.#failed(message, registration, error, signal, span);
    } finally {
      span.end();
    }
  }

  /** Reports a handler run's end to the metrics, when the bus has them. */
  #ended(envelope: Envelope, outcome: HandlerOutcome, startedMs: number): void {
    this.#host.metrics?.handlerEnded(
      this.topic,
      this.group,
      envelope.type,
      outcome,
      performance.now() - startedMs,
    );
  }

  /** A handled message: counted and acked; `span` ends once the ack settled. */
  #handled(message: ReceivedMessage, envelope: Envelope, span: Span, startedMs: number): undefined {
    let acked: Promise<void> | undefined;
    try {
      this.#host.counters.handled += 1;
      this.#ended(envelope, 'handled', startedMs);
      if (this.#firstFailureMs.size > 0) this.#firstFailureMs.delete(positionOf(message));
      acked = message.ack();
    } finally {
      if (acked === undefined) span.end();
    }
    // Not awaited here, so this frame can go now (see PendingAcks); a transport whose ack returns
    // no promise is counted all the same.
    const settling = Promise.resolve(acked);
    this.#acks.track(settling, message);
    // A recording span ends once the ack settled, as it did; a non-recording one has no end to see.
    if (span.isRecording()) endOnceSettled(span, settling);
    else span.end();
    return undefined;
  }

  /** Dead-letters `message` under a CONSUMER span of its own (decode failures, unknown types). */
  async #deadLetterTraced(
    message: ReceivedMessage,
    envelope: Envelope | undefined,
    reason: DeadLetterReason,
    error: unknown,
  ): Promise<void> {
    const traced = startProcess(this.#system, this.#host.source, this.group, message, envelope);
    try {
      return await this.#deadLetter(message, reason, error, traced.span);
    } finally {
      traced.span.end();
    }
  }

  async #unmatched(message: ReceivedMessage, envelope: Envelope): Promise<void> {
    // Another group of this bus (or another service) handles it: not ours, not an error.
    if (this.#host.knowsType(envelope.type)) return message.ack();
    const action = this.#host.onUnknown;
    if (action === 'ignore') return message.ack();
    if (action === 'dead-letter') {
      const error = new UnrecoverableError(
        `no contract of this bus has type "${envelope.type}"; register its contract (createBus({contracts})) ` +
          'or set onUnknown to "ignore"',
      );
      return this.#deadLetterTraced(message, envelope, 'unknown-type', error);
    }
    try {
      await action(message, envelope, this.group);
    } catch (error) {
      this.#host.logger.warn(
        { ...coordinates(message, this.group), type: envelope.type, id: envelope.id, error: String(error) },
        'onUnknown hook failed; message will be redelivered',
      );
      return message.nack({ delayMs: 1000 });
    }
    await message.ack();
  }

  async #failed(
    message: ReceivedMessage,
    registration: Registration,
    error: unknown,
    signal: AbortSignal,
    span: Span,
  ) {
    // A handler cut short by stop() is not at fault: leave it for redelivery, don't burn an attempt.
    if (this.#stopping && signal.aborted) return recordFailure(span, error);
    this.#rememberFirstFailure(message);
    if (isUnrecoverable(error)) {
      const reason: DeadLetterReason =
        error instanceof ValidationError
          ? 'invalid'
          : error instanceof DecodeError
            ? 'undecodable'
            : 'unrecoverable';
      return this.#deadLetter(message, reason, error, span);
    }
    if (message.deliveryAttempt >= registration.retry.attempts) {
      return this.#deadLetter(message, 'retries-exhausted', error, span);
    }
    const delayMs = retryDelayMs(registration.retry, message.deliveryAttempt);
    if (this.#host.logger.isLevelEnabled?.('debug') ?? true) {
      this.#host.logger.debug({ ...coordinates(message, this.group), delayMs }, 'retry scheduled');
    }
    this.#host.metrics?.retried(this.topic, this.group);
    recordFailure(span, error);
    await message.nack({ delayMs });
  }

  #rememberFirstFailure(message: ReceivedMessage): void {
    const position = positionOf(message);
    if (this.#firstFailureMs.has(position)) return;
    if (this.#firstFailureMs.size >= FIRST_FAILURES_MAX) {
      this.#firstFailureMs.delete(this.#firstFailureMs.keys().next().value!);
    }
    this.#firstFailureMs.set(position, Date.now());
  }

  async #deadLetter(
    message: ReceivedMessage,
    reason: DeadLetterReason,
    error: unknown,
    span: Span,
  ): Promise<void> {
    const topic = this.#host.deadLetterTopic(message.topic);
    const position = positionOf(message);
    const firstFailedAtMs = this.#firstFailureMs.get(position) ?? Date.now();
    try {
      await this.#host.transport.publish(topic, [
        deadLetterMessage(message, this.group, reason, error, firstFailedAtMs),
      ]);
    } catch (publishError) {
      // Never ack what could not be parked: the message comes back and we try again.
      this.#noteError('dead-letter', publishError);
      this.#host.logger.error(
        { ...coordinates(message, this.group), deadLetterTopic: topic, error: String(publishError) },
        'could not dead-letter a message; it will be redelivered',
      );
      recordFailure(span, publishError);
      return message.nack({ delayMs: 1000 });
    }
    recordDeadLetter(span, topic, reason, error);
    this.#host.logger.warn(
      {
        ...coordinates(message, this.group),
        deadLetterTopic: topic,
        reason,
        error: error instanceof HeraldError ? error.message : String(error),
      },
      'message dead-lettered',
    );
    this.#firstFailureMs.delete(position);
    this.#host.counters.deadLettered += 1;
    this.#host.metrics?.deadLettered(this.topic, this.group, reason);
    await message.ack();
  }
}
