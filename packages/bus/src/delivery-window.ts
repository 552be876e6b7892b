/**
 * Delivery for the memory transport, the embedded broker and RabbitMQ: one consumer group's members,
 * round-robin over its windows, nack delays, and settlement with delivery tokens. Per-key order is
 * each window's {@link KeyedFifo}: the transport owns the windows, fills them, and reads their
 * commit points; this class takes what is ready and settles it.
 *
 * The rules:
 * - a key's next entry waits until the previous one is acked; a released entry (nack, leave,
 *   visibility timeout) keeps its key blocked and is redelivered first (the window's contract);
 * - each ready entry goes to the next member with room (round-robin over members), and across
 *   windows the group takes one entry from each window in turn, starting after the window it last
 *   delivered from;
 * - a nack is first offered to the transport's `reroute` (RabbitMQ's retry queues); otherwise the
 *   entry is parked (its key blocked) on its own timer for the delay, at most `nackDelayMsMax`,
 *   then it is ready again;
 * - every delivery gets a new token (its hold, which the entry points to while it is current), so
 *   an ack or nack from an earlier delivery, or after close, does nothing.
 *
 * Cost per delivery: the message and its hold, nothing else. `ack` and `nack` are shared
 * functions, not closures (see {@link Delivered}); the handlers of one scan run in one microtask;
 * an ack returns the transport's own promise (a group's position write, shared by the acks of a
 * round) instead of an async frame of its own; a settled delivery lets go of its entry. A catch-up
 * holds thousands of messages whose handlers await their ack's write, long enough to outlive
 * scavenges, so what each keeps alive is what garbage collection costs (docs/benchmarks.md,
 * "Catch-up: the delivery path").
 *
 * Bounds and cost: held entries are at most the sum of the members' `inFlightMax`, nack timers one
 * per parked entry (bounded by the windows); a scan costs O(windows + entries delivered), each settlement O(1) (the
 * windows' own cost), so the cost per message does not grow with the number in flight.
 *
 * Invariants, asserted always (an `InvariantError` from `@herald/errors`): a member's in-flight
 * count stays between 0 and its `inFlightMax` (at least 1); a window that says it has a ready
 * entry hands one out; an entry is held by at most one delivery at a time.
 */
import { InvariantError, invariant } from '@herald/errors';
import { type Delivered, type DeliveryHold, HANDLED, HOLD, type Settler } from './delivered-message.ts';
import type { KeyedEntry, KeyedFifo } from './keyed-fifo.ts';
import type { MessageHandler, ReceivedMessage } from './transport.ts';

export { Delivered, type DeliveredFields, HANDLED } from './delivered-message.ts';

/** A member of the group: one subscription. Opaque to the transport apart from its counters. */
export interface WindowMember {
  readonly inFlightMax: number;
  /** Entries delivered to it and not yet settled. */
  readonly inFlight: number;
}

interface Member extends WindowMember {
  readonly handler: MessageHandler;
  inFlight: number;
  closed: boolean;
}

/**
 * The delivery state of one message, the value of a window entry. A transport extends it with its
 * own fields and creates entries with {@link waitingEntry}.
 */
export interface PendingEntry {
  /** 1 on first delivery; each release (nack, leave, visibility timeout) counts one more. */
  attempt: number;
}

/** The delivery fields of a fresh entry that has never been delivered. */
export function waitingEntry(): PendingEntry {
  return { attempt: 1 };
}

/** What the window needs from the transport that owns the storage. */
export interface DeliveryWindowSource<E extends PendingEntry> {
  /** The windows to take ready entries from, in round-robin order. Called once per scan, after {@link beforeScan}. */
  windows(): readonly KeyedFifo<E>[];
  /**
   * The message delivered for `entry`, its `deliveryAttempt`th delivery under `hold`: `new
   * Delivered(…fields, deliveryAttempt, hold)`, or `Delivered.of(fields, deliveryAttempt, hold)`.
   * The transport builds it, so no fields object is made per delivery only to be copied.
   */
  message<H extends DeliveryHold>(entry: E, deliveryAttempt: number, hold: H): Delivered<H>;
  /**
   * The current holder acked `entry` (already settled in its window, which may have moved its
   * commit point). The ack resolves when the returned promise does (e.g. a stored position). Not
   * called when the transport reset the window since the delivery: the entry was dropped.
   */
  onAck(entry: KeyedEntry<E>): Promise<void> | undefined;
  /**
   * Runs before each scan: fill windows, expire held entries with {@link DeliveryWindow.release}.
   * Returns when it wants the next scan at the latest (ms since the epoch), or nothing.
   */
  beforeScan?(nowMs: number): number | undefined;
  /** `entry` was just delivered (e.g. to start its visibility timeout with {@link DeliveryWindow.wakeAt}). */
  onDeliver?(entry: KeyedEntry<E>, nowMs: number): void;
  /**
   * Offered every nack first (with the delay asked): return undefined to have the entry released
   * for its delay, or a promise of whether the message was sent elsewhere (a retry queue). The
   * member's slot is free meanwhile; true settles the entry like an ack, false (or a rejection)
   * releases it after all.
   */
  reroute?(entry: KeyedEntry<E>, delayMs: number): Promise<boolean> | undefined;
  /** Longest nack delay an entry is held for; longer ones are shortened to it (default: no limit). */
  readonly nackDelayMsMax?: number;
}

/**
 * One delivery of an entry: who holds it and from which window; the entry's `holder` while
 * current. Once the delivery ends its `entry` is cleared, so a message its handler still holds
 * (awaiting the ack's write) keeps neither the entry nor the window's bookkeeping alive.
 */
class Hold<E extends PendingEntry> implements DeliveryHold {
  readonly owner: Settler;
  readonly member: Member;
  readonly window: KeyedFifo<E>;
  entry: KeyedEntry<E> | undefined;
  /** Neighbours in the window's list of held deliveries. */
  previous: Hold<E> | undefined = undefined;
  next: Hold<E> | undefined = undefined;

  constructor(owner: Settler, member: Member, window: KeyedFifo<E>, entry: KeyedEntry<E>) {
    this.owner = owner;
    this.member = member;
    this.window = window;
    this.entry = entry;
  }

  /** A logged message shows its delivery's state, not the window's internals behind it. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.entry === undefined ? '[delivery settled]' : '[delivery held]';
  }
}

/** A settlement that had nothing to wait for (shared: a settled promise is immutable). */
const SETTLED: Promise<void> = Promise.resolve();

/** One consumer group's delivery state machine over windows owned by a transport. */
export class DeliveryWindow<E extends PendingEntry> {
  readonly #source: DeliveryWindowSource<E>;
  readonly #members: Member[] = [];
  /** The held deliveries, a doubly linked list (each entry's `holder` is its current one). */
  #heldFirst: Hold<E> | undefined;
  #heldLast: Hold<E> | undefined;
  readonly #delayTimers = new Set<NodeJS.Timeout>();
  /**
   * Messages delivered since the handlers last ran, whose handlers run in the next microtask.
   * Bounded by what one synchronous run can deliver: the members' `inFlightMax`, plus deliveries
   * released (a member leaving, a nack) and delivered again before the microtask.
   */
  #toCall: (Delivered<Hold<E>> | undefined)[] = [];
  #toCallCount = 0;
  /**
   * The other of the two arrays `#toCall` alternates with: a run takes the filled one and leaves
   * an emptied one in its place, so no array is grown from nothing per run (growing a new array
   * to a thousand messages cost 28 bytes per message of garbage in a catch-up).
   */
  #toCallSpare: (Delivered<Hold<E>> | undefined)[] = [];
  #callScheduled = false;
  #nextMember = 0;
  #nextWindow = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDueMs = Number.POSITIVE_INFINITY;
  #pumping = false;
  #pumpAgain = false;
  #closed = false;
  /** What the messages' `ack` and `nack` reach (the class's own methods stay private). */
  readonly #settler: Settler = {
    settle: (hold) => this.#settle(hold as Hold<E>),
    release: (hold, delayMs) => this.#nack(hold as Hold<E>, delayMs),
  };

  constructor(source: DeliveryWindowSource<E>) {
    this.#source = source;
  }

  /** Live members. */
  get memberCount(): number {
    return this.#members.length;
  }

  /** Entries delivered and not yet settled, across members. */
  get held(): Iterable<KeyedEntry<E>> {
    const entries: KeyedEntry<E>[] = [];
    for (let hold = this.#heldFirst; hold !== undefined; hold = hold.next) entries.push(hold.entry!);
    return entries;
  }

  /** Adds a member and delivers to it what may go now. */
  join(handler: MessageHandler, inFlightMax: number): WindowMember {
    if (!(Number.isInteger(inFlightMax) && inFlightMax >= 1)) {
      throw new InvariantError(
        `DeliveryWindow: a member's inFlightMax is an integer >= 1, not ${inFlightMax}`,
      );
    }
    const member: Member = { handler, inFlightMax, inFlight: 0, closed: false };
    this.#members.push(member);
    this.pump();
    return member;
  }

  /** Removes a member; what it held returns to the group (counting an attempt). Idempotent. */
  leave(handle: WindowMember): void {
    const member = handle as Member;
    if (member.closed) return;
    member.closed = true;
    this.#members.splice(this.#members.indexOf(member), 1);
    for (let hold = this.#heldFirst; hold !== undefined; ) {
      const next = hold.next;
      if (hold.member === member) this.release(hold.entry!);
      hold = next;
    }
    this.pump();
  }

  /**
   * Returns a held entry to its window, ready again after `delayMs` (its key blocked meanwhile),
   * counting the delivery as an attempt. Does nothing for an entry not held.
   */
  release(entry: KeyedEntry<E>, delayMs = 0): void {
    const hold = this.#currentHold(entry);
    if (hold === undefined) return;
    this.#park(hold.window, this.#unhold(hold), delayMs);
  }

  /** The delivery holding `entry` now, if this window delivered it. */
  #currentHold(entry: KeyedEntry<E>): Hold<E> | undefined {
    const hold = entry.holder;
    return hold instanceof Hold && hold.owner === this.#settler ? (hold as Hold<E>) : undefined;
  }

  /** A released entry: one more attempt, ready again after `delayMs` (at most `nackDelayMsMax`). */
  #park(window: KeyedFifo<E>, entry: KeyedEntry<E>, delayMsAsked: number): void {
    entry.value.attempt += 1;
    const delayMs = Math.min(delayMsAsked, this.#source.nackDelayMsMax ?? Number.POSITIVE_INFINITY);
    if (delayMs <= 0) {
      window.release(entry, true);
      return;
    }
    window.release(entry);
    const timer = setTimeout(() => {
      this.#delayTimers.delete(timer);
      window.retry(entry);
      this.pump();
    }, delayMs);
    this.#delayTimers.add(timer);
  }

  /** Scans again at `dueMs` (ms since the epoch) at the latest; one timer serves every request. */
  wakeAt(dueMs: number): void {
    if (this.#closed || !(dueMs < this.#timerDueMs)) return;
    clearTimeout(this.#timer);
    this.#timerDueMs = dueMs;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, dueMs - Date.now()));
  }

  /**
   * The timer's callback, one function for the window's life: a closure written inside `wakeAt`
   * made every call of it allocate a context for `this`, even the calls (one per scan) that set no
   * timer.
   */
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerDueMs = Number.POSITIVE_INFINITY;
    this.pump();
  };

  /**
   * Delivers every entry that may go now. Runs the scan again instead of re-entering, so a
   * settlement during delivery cannot change the windows while they are walked.
   */
  pump(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#scan();
      } while (this.#pumpAgain && !this.#closed);
    } finally {
      this.#pumping = false;
    }
    if (this.#toCallCount > 0 && !this.#callScheduled) {
      this.#callScheduled = true;
      queueMicrotask(this.#callHandlers);
    }
  }

  /** Stops delivering: members leave (held entries are released), the timer stops, later settlements do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const member of [...this.#members]) this.leave(member);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDueMs = Number.POSITIVE_INFINITY;
    for (const timer of this.#delayTimers) clearTimeout(timer);
    this.#delayTimers.clear();
  }

  #scan(): void {
    const nowMs = Date.now();
    const nextDueMs = this.#source.beforeScan?.(nowMs) ?? Number.POSITIVE_INFINITY;
    this.#deliverReady(nowMs);
    this.wakeAt(nextDueMs);
  }

  /**
   * The scan's loop, in a method of its own: V8 compiles a long first loop on-stack (OSR) before
   * the code after it ever ran, and kept re-entering that compiled loop and deoptimizing at its
   * exit (at `wakeAt`, which had no type feedback yet), hundreds of times in a 200,000-message
   * catch-up; here the loop's exit is a plain return.
   */
  #deliverReady(nowMs: number): void {
    const windows = this.#source.windows();
    const count = windows.length;
    let index = this.#nextWindow % Math.max(count, 1);
    // Each pass takes one entry from every window with one ready; stop after a pass of none.
    for (let idle = 0; idle < count; index = (index + 1) % count) {
      const window = windows[index]!;
      if (!window.hasReady) {
        idle += 1;
        continue;
      }
      const member = this.#memberWithRoom();
      if (member === undefined) break;
      idle = 0;
      const entry = window.take();
      invariant(entry !== undefined, 'DeliveryWindow: a window with a ready entry hands it out');
      this.#deliver(window, entry, member, nowMs);
      this.#nextWindow = index + 1;
    }
  }

  /**
   * A delivery ended (settled, released or rerouted): out of the held list, its member's count
   * down, its entry no longer its (returned).
   */
  #unhold(hold: Hold<E>): KeyedEntry<E> {
    const entry = hold.entry!;
    entry.holder = undefined;
    hold.entry = undefined;
    const { previous, next } = hold;
    if (previous === undefined) this.#heldFirst = next;
    else previous.next = next;
    if (next === undefined) this.#heldLast = previous;
    else next.previous = previous;
    hold.previous = undefined;
    hold.next = undefined;
    const member = hold.member;
    member.inFlight -= 1;
    invariant(member.inFlight >= 0, 'DeliveryWindow: a member in-flight count never negative');
    return entry;
  }

  #memberWithRoom(): Member | undefined {
    for (let tried = 0; tried < this.#members.length; tried++) {
      const member = this.#members[this.#nextMember % this.#members.length]!;
      this.#nextMember = (this.#nextMember + 1) % this.#members.length;
      if (member.inFlight < member.inFlightMax) return member;
    }
    return undefined;
  }

  #deliver(window: KeyedFifo<E>, entry: KeyedEntry<E>, member: Member, nowMs: number): void {
    member.inFlight += 1;
    invariant(member.inFlight <= member.inFlightMax, 'DeliveryWindow: a member holds at most inFlightMax');
    invariant(entry.holder === undefined, 'DeliveryWindow: an entry is held by one delivery at a time');
    // A new hold per delivery is its token: an ack or nack of an earlier delivery finds another.
    const hold = new Hold<E>(this.#settler, member, window, entry);
    entry.holder = hold;
    hold.previous = this.#heldLast;
    if (this.#heldLast === undefined) this.#heldFirst = hold;
    else this.#heldLast.next = hold;
    this.#heldLast = hold;
    this.#source.onDeliver?.(entry, nowMs);
    this.#toCall[this.#toCallCount++] = this.#source.message(entry.value, entry.value.attempt, hold);
  }

  /**
   * Runs the handlers of the messages delivered since the last run, in delivery order, in one
   * microtask rather than a promise chain each. A handler that throws (synchronously or not) gets
   * its message nacked: the subscriber's bug.
   */
  readonly #callHandlers = (): void => {
    this.#callScheduled = false;
    const messages = this.#toCall;
    const count = this.#toCallCount;
    // Deliveries made by the handlers below (an ack frees room) go to the other array; this one
    // is the spare again for the next run, which is a later microtask.
    this.#toCall = this.#toCallSpare;
    this.#toCallCount = 0;
    this.#toCallSpare = messages;
    // A scan per settlement made during the run becomes one after it: the handlers' acks each
    // asked for a scan (`Date.now`, `beforeScan`, a pass over the windows, `wakeAt`) to deliver
    // the one entry its room let in, and what those scans deliver waits for the next run anyway
    // (docs/benchmarks.md, "The live consume path over merged batches").
    this.#pumping = true;
    try {
      this.#runHandlers(messages, count);
    } finally {
      this.#pumping = false;
    }
    if (this.#pumpAgain) this.pump();
  };

  /** The handlers of `messages[0, count)`, in order (see {@link #callHandlers}). */
  #runHandlers(messages: (Delivered<Hold<E>> | undefined)[], count: number): void {
    for (let index = 0; index < count; index++) {
      const message = messages[index]!;
      // The array outlives the run: it must not keep a settled message alive.
      messages[index] = undefined;
      const hold = message[HOLD];
      let result: Promise<void>;
      try {
        result = hold.member.handler(message);
      } catch {
        void message.nack().catch(ignore);
        continue;
      }
      // HANDLED cannot reject: nothing to nack, so no reaction. Otherwise only a rejection needs
      // the message, bound as `this` of a shared function: a bound function is about half the
      // bytes of a closure and the context it captures, and this runs once per delivery.
      if (result === HANDLED) continue;
      if (typeof (result as PromiseLike<void> | undefined)?.then === 'function')
        void Promise.resolve(result).then(undefined, nackOnRejection.bind(message));
    }
  }

  /** `ack` of the delivery `hold`: settles its entry; resolves once the transport stored it. */
  #settle(hold: Hold<E>): Promise<void> {
    if (this.#closed || hold.entry?.holder !== hold) return SETTLED;
    try {
      const entry = this.#unhold(hold);
      // False: the transport reset the window since (e.g. retention passed it); nothing to store.
      const done = hold.window.ack(entry) ? this.#source.onAck(entry) : undefined;
      this.pump();
      return done ?? SETTLED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `nack` of the delivery `hold`: offered to `reroute`, else released for the delay. */
  #nack(hold: Hold<E>, delayMsAsked: number | undefined): Promise<void> {
    const entry = hold.entry;
    if (this.#closed || entry?.holder !== hold) return SETTLED;
    try {
      const delayMs = Math.max(0, delayMsAsked ?? 0);
      const rerouted = this.#source.reroute?.(entry, delayMs);
      if (rerouted === undefined) {
        this.release(entry, delayMs);
        this.pump();
        return SETTLED;
      }
      this.#unhold(hold);
      return this.#afterReroute(hold.window, entry, rerouted, delayMs);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A rerouted nack: settled like an ack when the transport sent it elsewhere, else parked. */
  async #afterReroute(
    window: KeyedFifo<E>,
    entry: KeyedEntry<E>,
    rerouted: Promise<boolean>,
    delayMs: number,
  ): Promise<void> {
    const sent = await rerouted.catch(() => false);
    if (this.#closed) return;
    let done: Promise<void> | undefined;
    if (!sent) this.#park(window, entry, delayMs);
    else if (window.ack(entry)) done = this.#source.onAck(entry);
    this.pump();
    await done;
  }
}

function ignore(): void {}

/** A handler's promise rejected: its message (`this`) is nacked, the subscriber's bug. */
function nackOnRejection(this: ReceivedMessage): void {
  this.nack().catch(ignore);
}
