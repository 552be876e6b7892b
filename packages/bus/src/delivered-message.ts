/**
 * The message a {@link DeliveryWindow} hands a handler for one delivery. Built per delivery, so it
 * holds no closures: `ack` and `nack` are shared functions (own properties, so a spread copy keeps
 * them) that find the delivery through the symbol-keyed `[HOLD]` (also copied by a spread, pointing
 * to the same hold). They must be called as methods of the message or of such a copy; called
 * detached they throw a `TypeError` saying so. What each delivery keeps alive is what garbage
 * collection costs in a catch-up (docs/benchmarks.md, "Catch-up: the delivery path").
 */
import type { ReceivedMessage } from './transport.ts';

/**
 * The fulfilled promise a handler returns when it settled its message before returning (the bus's
 * dispatcher, for a handler run that finished synchronously). It can never reject, so the
 * {@link DeliveryWindow} attaches no rejection reaction to it: per message, no derived promise,
 * no reaction, no bound function and no microtask job for it (docs/benchmarks.md, "Catch-up:
 * fourth pass"). Any other transport just awaits it, as it would any settled promise.
 */
export const HANDLED: Promise<void> = Promise.resolve();

/** Where a delivered message (or a spread copy of it) keeps its delivery. */
export const HOLD = Symbol('herald.delivery');

/** The message fields a transport supplies; the window adds `deliveryAttempt`, `ack` and `nack`. */
export type DeliveredFields = Omit<ReceivedMessage, 'deliveryAttempt' | 'ack' | 'nack'>;

/** What a delivered message's `ack` and `nack` call: the window that delivered it. */
export interface Settler {
  settle(hold: DeliveryHold): Promise<void>;
  release(hold: DeliveryHold, delayMs: number | undefined): Promise<void>;
}

/** One delivery, as its message sees it: the window to settle it with. */
export interface DeliveryHold {
  readonly owner: Settler;
}

/** The message of one delivery, keyed to its hold `H`. */
export class Delivered<H extends DeliveryHold> implements ReceivedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  readonly deliveryAttempt: number;
  readonly ack: () => Promise<void> = ackDelivered;
  readonly nack: (options?: { readonly delayMs?: number }) => Promise<void> = nackDelivered;
  readonly [HOLD]: H;

  /**
   * The fields one by one, not as a {@link DeliveredFields} object: such an object built per
   * delivery only to be copied here is one more allocation per message wherever V8 does not inline
   * both and remove it (docs/benchmarks.md, "Catch-up: bytes allocated per delivery").
   */
  constructor(
    topic: string,
    partition: number,
    offset: string,
    key: string | undefined,
    headers: Readonly<Record<string, string>>,
    body: Uint8Array,
    timestampMs: number,
    deliveryAttempt: number,
    hold: H,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.key = key;
    this.headers = headers;
    this.body = body;
    this.timestampMs = timestampMs;
    this.deliveryAttempt = deliveryAttempt;
    this[HOLD] = hold;
  }

  /** The message of `fields` (for a transport that has them as one object already). */
  static of<H extends DeliveryHold>(fields: DeliveredFields, deliveryAttempt: number, hold: H): Delivered<H> {
    return new Delivered(
      fields.topic,
      fields.partition,
      fields.offset,
      fields.key,
      fields.headers,
      fields.body,
      fields.timestampMs,
      deliveryAttempt,
      hold,
    );
  }
}

/** The hold behind `message` (a delivered message or a spread copy of one). */
function holdOf(message: unknown, operation: string): DeliveryHold {
  const hold = (message as Partial<Delivered<DeliveryHold>> | undefined)?.[HOLD];
  if (hold === undefined) {
    throw new TypeError(
      `${operation}() was called detached from its message: call it as message.${operation}()`,
    );
  }
  return hold;
}

function ackDelivered(this: unknown): Promise<void> {
  const hold = holdOf(this, 'ack');
  return hold.owner.settle(hold);
}

function nackDelivered(this: unknown, options?: { readonly delayMs?: number }): Promise<void> {
  const hold = holdOf(this, 'nack');
  return hold.owner.release(hold, options?.delayMs);
}
