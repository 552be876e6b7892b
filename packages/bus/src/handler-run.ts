/**
 * What one handler run needs beside its dispatcher: the context it is given, its deadline when it
 * returned a promise, and the wait for the runs still in flight when the bus stops. Apart from
 * `dispatcher.ts` to keep that file within the size limit.
 */
import type { Context } from '@opentelemetry/api';
import type { MessageContext, PublishOptions } from './context.ts';
import type { CommandContract, EventContract } from './contracts.ts';
import type { DeadlineSweep } from './deadline-sweep.ts';
import type { Envelope } from './envelope.ts';
import { ConfigurationError, TimeoutError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { ReceivedMessage } from './transport.ts';

/**
 * What to do with a message whose type no contract of the bus knows: dead-letter it (default),
 * ignore it (ack), or call a function (then ack; throw to have it redelivered).
 */
export type UnknownTypeAction =
  | 'dead-letter'
  | 'ignore'
  | ((message: ReceivedMessage, envelope: Envelope, group: string) => Promise<void>);

/** What the dispatchers of one bus count. */
export interface DispatchCounters {
  /** Handler runs that succeeded. */
  handled: number;
  /** Handler runs that failed (each failed attempt counts). */
  failed: number;
  /** Messages dead-lettered. */
  deadLettered: number;
}

/** A delivery being processed: what `stop()` waits for, and the signal it aborts. */
export interface InFlight {
  done: Promise<void>;
  readonly controller: AbortController;
}

/** What a handler's context needs from its bus. */
export interface ContextHost {
  readonly logger: Logger;
  /** Publishes or sends a message caused by `cause`. */
  publishCaused(
    contract: EventContract | CommandContract,
    data: unknown,
    cause: Envelope,
    options: PublishOptions | undefined,
    traceContext?: Context,
  ): Promise<void>;
}

/**
 * `context.transaction` without a transactional idempotency store (the idempotency middleware
 * replaces it when there is one): one function for every message, not a closure each.
 */
function noTransaction(): never {
  throw new ConfigurationError(
    'context.transaction needs an idempotency store with transactions; pass createBus({ idempotency }) ' +
      'with the PostgreSQL inbox from @herald/postgres',
  );
}

/** The context one handler run gets; its `publish` and `send` carry `envelope` as the cause. */
export function messageContext(
  host: ContextHost,
  group: string,
  contract: EventContract | CommandContract,
  message: ReceivedMessage,
  envelope: Envelope,
  signal: AbortSignal,
  traceContext: Context,
): MessageContext {
  return {
    contract,
    group,
    envelope,
    data: envelope.data,
    message,
    signal,
    attempt: message.deliveryAttempt,
    logger: host.logger,
    publish: (event, data, options) => host.publishCaused(event, data, envelope, options, traceContext),
    send: (command, data, options) => host.publishCaused(command, data, envelope, options, traceContext),
    transaction: noTransaction,
  };
}

/**
 * Resolves or rejects with `work`, unless `timeoutMs` passes first: then the handler's signal is
 * aborted and the attempt fails with a retriable `TimeoutError` (the handler may still be running;
 * at-least-once delivery allows the retry to overlap it). The deadline is kept by the dispatcher's
 * {@link DeadlineSweep}, so a message starts no timer of its own.
 */
export function withTimeout(
  work: Promise<void>,
  timeoutMs: number,
  controller: AbortController,
  envelope: Envelope,
  deadlines: DeadlineSweep,
): Promise<void> {
  // One promise settled by whichever comes first: no second promise and no Promise.race per message.
  return new Promise<void>((resolve, reject) => {
    const deadline = deadlines.add(timeoutMs, () => {
      const error = new TimeoutError(
        `handler of "${envelope.type}" ${envelope.id} ran longer than ${timeoutMs} ms; raise timeoutMs or make it faster`,
      );
      controller.abort(error);
      reject(error);
    });
    work.then(
      () => {
        deadlines.settle(deadline);
        resolve();
      },
      (error: unknown) => {
        deadlines.settle(deadline);
        reject(error);
      },
    );
  });
}

/** Waits until every entry settled or `deadlineMs` (a `performance.now()` time) passed. */
export async function waitAll(entries: Set<InFlight>, deadlineMs: number): Promise<boolean> {
  while (entries.size > 0) {
    const remainingMs = deadlineMs - performance.now();
    if (remainingMs <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, remainingMs);
    });
    await Promise.race([Promise.all([...entries].map((entry) => entry.done)), timeout]);
    clearTimeout(timer);
  }
  return true;
}

/**
 * Where a message is, for log lines: its topic, group, partition, offset, attempt, and its
 * CloudEvents type and id when its headers carry them (read raw: it may not decode).
 */
export function coordinates(message: ReceivedMessage, group: string): Record<string, unknown> {
  return {
    type: message.headers.ce_type,
    id: message.headers.ce_id,
    group,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    attempt: message.deliveryAttempt,
  };
}

/** Identifies a delivered message by its position, stable across redeliveries. */
export function positionOf(message: ReceivedMessage): string {
  return `${message.topic}/${message.partition}/${message.offset}`;
}
