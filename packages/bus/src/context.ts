/** What a handler and a middleware see of the message they process. */
import type { CommandContract, EventContract, InputOf } from './contracts.ts';
import type { Envelope } from './envelope.ts';
import type { Logger } from './logger.ts';
import type { OutboxTransaction } from './outbox.ts';
import type { ScheduleRequest } from './schedule/deliver-at.ts';
import type { ReceivedMessage } from './transport.ts';

/**
 * Options for a publish or send. Herald fills in the rest of the envelope. With `deliverAt` or
 * `delayMs` the message is scheduled: kept by the transport (see its `features.scheduling`) and
 * delivered at that time, never before; the returned envelope's `id` cancels it
 * (`bus.cancelScheduled(id)`). A time in the past means now.
 */
export interface PublishOptions extends ScheduleRequest {
  /** Overrides the contract's key. */
  readonly key?: string;
  /** CloudEvents `subject`; overrides the contract's. */
  readonly subject?: string;
  /** Message id; a UUIDv7 by default. Reuse an id only to republish the same message. */
  readonly id?: string;
  /**
   * CloudEvents `source`; the bus's own by default. The outbox relay passes the staging bus's, so a
   * copy republished by another process keeps the `(source, id)` that consumers deduplicate by.
   */
  readonly source?: string;
  /** Correlation id; defaults to the message's own id (it starts a flow). */
  readonly correlationId?: string;
  /** Causation id: the message that caused this one. */
  readonly causationId?: string;
  /** W3C `traceparent`. */
  readonly traceparent?: string;
  /** Extra CloudEvents extension attributes (lower-case alphanumeric names). */
  readonly extensions?: Readonly<Record<string, string>>;
}

/** The context passed through middleware to a handler. */
export interface MessageContext {
  /** The contract the message was matched to. */
  readonly contract: EventContract | CommandContract;
  /** The consumer group processing it. */
  readonly group: string;
  /** The decoded CloudEvents envelope, exactly as received (before upcasting). */
  readonly envelope: Envelope;
  /** The payload: as received until the validation middleware upcasts and validates it. */
  data: unknown;
  /** The transport's delivery: topic, partition, offset, attempt. */
  readonly message: ReceivedMessage;
  /** Aborted when the bus stops and the drain deadline passes. */
  readonly signal: AbortSignal;
  /** 1-based delivery attempt. */
  readonly attempt: number;
  /** Logger with the message's fields bound. */
  readonly logger: Logger;
  /** Publishes an event caused by this message (copies the correlation id, sets the causation id). */
  publish<C extends EventContract>(event: C, data: InputOf<C>, options?: PublishOptions): Promise<void>;
  /** Sends a command caused by this message (copies the correlation id, sets the causation id). */
  send<C extends CommandContract>(command: C, data: InputOf<C>, options?: PublishOptions): Promise<void>;
  /**
   * Runs `work` in one database transaction with the message's dedup record (the transactional
   * inbox), so its writes are applied exactly once. Needs a transactional idempotency store (the
   * PostgreSQL inbox, where `transaction` is a `pg` client; the SQLite store, a `DatabaseSync`);
   * rejects with `ConfigurationError` otherwise. When the store has an outbox, `transaction.publish`
   * and `transaction.send` stage messages caused by this one in the same transaction; the bus's
   * relay publishes them after the commit (without an outbox they are absent).
   */
  transaction<T, Transaction = unknown>(
    work: (transaction: OutboxTransaction<Transaction>) => Promise<T>,
  ): Promise<T>;
}

/** The context a handler receives: {@link MessageContext} with the validated, typed payload. */
export interface HandlerContext<T> extends MessageContext {
  readonly data: T;
  readonly envelope: Envelope<T>;
}

/**
 * Wraps the rest of the pipeline: do work before and after `next()`, or throw instead of calling
 * it. One middleware per concern, one file per middleware.
 */
export type Middleware = (context: MessageContext, next: () => Promise<void>) => Promise<void>;

/**
 * Runs `middleware` in order around `handler`. Each layer's step is built once, here, so a message
 * costs one `next` closure per layer (it must carry the message's context and its once-only
 * guard) and no other allocation of compose's own.
 */
export function compose(
  middleware: readonly Middleware[],
  handler: (context: MessageContext) => Promise<void>,
): (context: MessageContext) => Promise<void> {
  let step = handler;
  for (let index = middleware.length - 1; index >= 0; index--) {
    const current = middleware[index]!;
    const following = step;
    step = (context) => {
      let called = false;
      return current(context, () => {
        if (called) throw new Error('middleware called next() twice');
        called = true;
        return following(context);
      });
    };
  }
  return step;
}

/**
 * True for what `await` would wait on: an object or function with a `then` method. For the
 * pipeline's steps, which skip an `await` on anything else (not exported by the package).
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
