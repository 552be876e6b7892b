/**
 * The message a {@link DeliveryWindow} hands a handler for one delivery, which is also the
 * delivery's hold (its token): one object per delivery. Built per delivery, so it holds no
 * closures: `ack` and `nack` are shared functions (own properties, so a spread copy keeps them)
 * that find the delivery through the symbol-keyed `[HOLD]` (the message itself; a spread copy
 * copies it, so the copy settles the original delivery). They must be called as methods of the
 * message or of such a copy; called detached they throw a `TypeError` saying so. The delivery's
 * own state sits under symbol keys too (here and in the window's subclass), so `Object.keys`,
 * `JSON.stringify` and a message's string-keyed fields stay the contract's. What each delivery
 * keeps alive is what garbage collection costs in a catch-up (docs/benchmarks.md, "Catch-up: the
 * delivery path" and "One object per delivery").
 */
import type { ReceivedMessage } from './transport.ts';

/** Where a delivered message (or a spread copy of it) keeps its delivery: the message itself. */
export const HOLD = Symbol('herald.delivery');
/** The window that settles a delivery. */
export const SETTLER = Symbol('herald.settler');

/** The message fields a transport supplies; the window adds `deliveryAttempt`, `ack` and `nack`. */
export type DeliveredFields = Omit<ReceivedMessage, 'deliveryAttempt' | 'ack' | 'nack'>;

/** What a delivered message's `ack` and `nack` call: the window that delivered it. */
export interface Settler {
  settle(hold: DeliveryHold): Promise<void>;
  release(hold: DeliveryHold, delayMs: number | undefined): Promise<void>;
}

/** One delivery, as its message sees it: the window to settle it with. */
export interface DeliveryHold {
  readonly [SETTLER]: Settler;
}

/** The message of one delivery, and its hold; a window extends it with its own delivery state. */
export class Delivered implements ReceivedMessage, DeliveryHold {
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
  readonly [SETTLER]: Settler;
  readonly [HOLD]: DeliveryHold;

  constructor(fields: DeliveredFields, deliveryAttempt: number, settler: Settler) {
    this.topic = fields.topic;
    this.partition = fields.partition;
    this.offset = fields.offset;
    this.key = fields.key;
    this.headers = fields.headers;
    this.body = fields.body;
    this.timestampMs = fields.timestampMs;
    this.deliveryAttempt = deliveryAttempt;
    this[SETTLER] = settler;
    this[HOLD] = this;
  }

  /** A logged message shows the contract's fields, not the window's state behind it. */
  [Symbol.for('nodejs.util.inspect.custom')](): ReceivedMessage {
    const { topic, partition, offset, key, headers, body, timestampMs, deliveryAttempt, ack, nack } = this;
    return { topic, partition, offset, key, headers, body, timestampMs, deliveryAttempt, ack, nack };
  }
}

/** The hold behind `message` (a delivered message or a spread copy of one). */
function holdOf(message: unknown, operation: string): DeliveryHold {
  const hold = (message as Partial<Delivered> | undefined)?.[HOLD];
  if (hold === undefined) {
    throw new TypeError(
      `${operation}() was called detached from its message: call it as message.${operation}()`,
    );
  }
  return hold;
}

function ackDelivered(this: unknown): Promise<void> {
  const hold = holdOf(this, 'ack');
  return hold[SETTLER].settle(hold);
}

function nackDelivered(this: unknown, options?: { readonly delayMs?: number }): Promise<void> {
  const hold = holdOf(this, 'nack');
  return hold[SETTLER].release(hold, options?.delayMs);
}
