/**
 * The per-key delivery scan shared by Herald's own transports (memory, embedded broker): one
 * consumer group's members, the walk over its windows of pending messages, nack delays, and
 * settlement with delivery tokens. The transport owns the storage: it fills the windows, removes
 * what it no longer needs, and builds the delivered message's fields.
 *
 * The rules, for each window (a partition, or the memory transport's whole topic) in order:
 * - the first unacked entry of a key blocks every later entry of that key, so a key's next message
 *   waits until the previous one is acked (a nacked one is retried first);
 * - entries held by a member are skipped, entries whose nack delay has not passed are skipped and
 *   one timer wakes the group when the earliest is due;
 * - each deliverable entry goes to the next member with room (round-robin over members), and across
 *   windows the group takes one entry from each window in turn, starting after the window it last
 *   delivered from;
 * - every delivery gets a new token, so an ack or nack from an earlier delivery, or after close,
 *   does nothing.
 *
 * Bounds: the window holds no messages of its own. Held entries are at most the sum of the members'
 * `inFlightMax`; a scan allocates at most `room` candidates per window and walks every entry of
 * every window once, so a scan costs O(entries in the windows); one timer per group.
 */
import type { MessageHandler, ReceivedMessage } from './transport.ts';

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
 * The delivery state of one message in a window. A transport extends it with its own fields and
 * creates entries with {@link waitingEntry}.
 */
export interface PendingEntry {
  /** Entries with the same key are delivered one at a time, in window order; undefined: no order. */
  readonly key: string | undefined;
  /** Set by the window when the current holder acks; acked entries block nothing. */
  acked: boolean;
  /** 1 on first delivery; each release (nack, leave, visibility timeout) counts one more. */
  attempt: number;
  /** Not delivered before this time (ms since the epoch): a nack delay. */
  notBeforeMs: number;
  /** The member holding it, or null while it waits. */
  holder: WindowMember | null;
  /** Changes on every delivery, so a settlement from an earlier delivery is recognised as stale. */
  token: number;
}

/** The delivery fields of a fresh entry that has never been delivered. */
export function waitingEntry(): Omit<PendingEntry, 'key'> {
  return { acked: false, attempt: 1, notBeforeMs: 0, holder: null, token: 0 };
}

/** The message fields a transport supplies; the window adds `deliveryAttempt`, `ack` and `nack`. */
export type DeliveredFields = Omit<ReceivedMessage, 'deliveryAttempt' | 'ack' | 'nack'>;

/** What the window needs from the transport that owns the storage. */
export interface DeliveryWindowSource<E extends PendingEntry> {
  /**
   * The windows to scan, each in delivery order (e.g. by offset). Called once per scan, after
   * {@link beforeScan}; the arrays are only read, and only during the scan.
   */
  windows(): readonly (readonly E[])[];
  /** The fields of the message delivered for `entry`. */
  describe(entry: E): DeliveredFields;
  /**
   * The current holder acked `entry` (already marked acked and no longer held). The transport drops
   * or keeps it; the ack resolves when the returned promise does (e.g. a stored position).
   */
  onAck(entry: E): Promise<void> | undefined;
  /**
   * Runs before each scan: fill windows, expire held entries with {@link DeliveryWindow.release}.
   * Returns when it wants the next scan at the latest (ms since the epoch), or nothing.
   */
  beforeScan?(nowMs: number): number | undefined;
  /** `entry` was just delivered (e.g. to start its visibility timeout with {@link DeliveryWindow.wakeAt}). */
  onDeliver?(entry: E, nowMs: number): void;
}

/** One consumer group's delivery state machine over windows owned by a transport. */
export class DeliveryWindow<E extends PendingEntry> {
  readonly #source: DeliveryWindowSource<E>;
  readonly #members: Member[] = [];
  readonly #held = new Set<E>();
  #nextMember = 0;
  #nextWindow = 0;
  #tokens = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDueMs = Number.POSITIVE_INFINITY;
  #pumping = false;
  #pumpAgain = false;
  #closed = false;

  constructor(source: DeliveryWindowSource<E>) {
    this.#source = source;
  }

  /** Live members. */
  get memberCount(): number {
    return this.#members.length;
  }

  /** Entries delivered and not yet settled, across members. */
  get held(): ReadonlySet<E> {
    return this.#held;
  }

  /** Adds a member and delivers to it what may go now. */
  join(handler: MessageHandler, inFlightMax: number): WindowMember {
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
    for (const entry of [...this.#held]) {
      if (entry.holder === member) this.release(entry);
    }
    this.pump();
  }

  /** Returns a held entry to the waiting state, due after `delayMs`, counting the delivery as an attempt. */
  release(entry: E, delayMs = 0): void {
    const holder = entry.holder as Member | null;
    if (holder !== null) holder.inFlight -= 1;
    entry.holder = null;
    entry.token = 0;
    entry.attempt += 1;
    entry.notBeforeMs = Date.now() + delayMs;
    this.#held.delete(entry);
  }

  /** Scans again at `dueMs` (ms since the epoch) at the latest; one timer serves every request. */
  wakeAt(dueMs: number): void {
    if (this.#closed || !(dueMs < this.#timerDueMs)) return;
    clearTimeout(this.#timer);
    this.#timerDueMs = dueMs;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerDueMs = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, dueMs - Date.now()),
    );
  }

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
  }

  /** Stops delivering: members leave (held entries are released), the timer stops, later settlements do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const member of [...this.#members]) this.leave(member);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDueMs = Number.POSITIVE_INFINITY;
  }

  #scan(): void {
    const nowMs = Date.now();
    let nextDueMs = this.#source.beforeScan?.(nowMs) ?? Number.POSITIVE_INFINITY;
    let room = 0;
    for (const member of this.#members) room += member.inFlightMax - member.inFlight;
    const windows = this.#source.windows();
    const candidates: E[][] = [];
    for (const window of windows) {
      const found: E[] = [];
      nextDueMs = Math.min(nextDueMs, collect(window, room, nowMs, found));
      candidates.push(found);
    }
    const count = windows.length;
    const first = this.#nextWindow % Math.max(count, 1);
    deliver: for (let round = 0; round < room; round++) {
      let offered = false;
      for (let step = 0; step < count; step++) {
        const index = (first + step) % count;
        const entry = candidates[index]![round];
        if (entry === undefined) continue;
        offered = true;
        const member = this.#memberWithRoom();
        if (member === undefined) break deliver;
        this.#deliver(entry, member, nowMs);
        this.#nextWindow = index + 1;
      }
      if (!offered) break;
    }
    this.wakeAt(nextDueMs);
  }

  #memberWithRoom(): Member | undefined {
    for (let tried = 0; tried < this.#members.length; tried++) {
      const member = this.#members[this.#nextMember % this.#members.length]!;
      this.#nextMember = (this.#nextMember + 1) % this.#members.length;
      if (member.inFlight < member.inFlightMax) return member;
    }
    return undefined;
  }

  #deliver(entry: E, member: Member, nowMs: number): void {
    const token = ++this.#tokens;
    entry.holder = member;
    entry.token = token;
    member.inFlight += 1;
    this.#held.add(entry);
    this.#source.onDeliver?.(entry, nowMs);
    const isCurrent = () => !this.#closed && entry.token === token && entry.holder === member;
    const message: ReceivedMessage = {
      ...this.#source.describe(entry),
      deliveryAttempt: entry.attempt,
      ack: async () => {
        if (!isCurrent()) return;
        member.inFlight -= 1;
        entry.holder = null;
        entry.token = 0;
        entry.acked = true;
        this.#held.delete(entry);
        const done = this.#source.onAck(entry);
        this.pump();
        await done;
      },
      nack: async (options) => {
        if (!isCurrent()) return;
        this.release(entry, Math.max(0, options?.delayMs ?? 0));
        this.pump();
      },
    };
    // A handler that throws (synchronously or not) gets its message nacked: the subscriber's bug.
    void Promise.resolve()
      .then(() => member.handler(message))
      .catch(() => message.nack());
  }
}

/**
 * Adds up to `room` deliverable entries of one window to `found`, in window order; returns the
 * earliest nack delay still running among the entries walked.
 */
function collect<E extends PendingEntry>(
  window: readonly E[],
  room: number,
  nowMs: number,
  found: E[],
): number {
  let nextDueMs = Number.POSITIVE_INFINITY;
  if (room <= 0) return nextDueMs;
  const blockedKeys = new Set<string>();
  for (const entry of window) {
    if (entry.acked) continue;
    const key = entry.key;
    if (key !== undefined) {
      if (blockedKeys.has(key)) continue;
      blockedKeys.add(key); // Later entries of this key wait for this one.
    }
    if (entry.holder !== null) continue;
    if (entry.notBeforeMs > nowMs) {
      nextDueMs = Math.min(nextDueMs, entry.notBeforeMs);
      continue;
    }
    found.push(entry);
    if (found.length >= room) break;
  }
  return nextDueMs;
}
