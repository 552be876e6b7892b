/**
 * Herald's one per-key ordering primitive: a bounded window of entries in offset order where an
 * entry may be delivered only when every earlier entry of its key is settled, and whose commit
 * point is the lowest unsettled offset. The memory transport, the embedded broker (through
 * `DeliveryWindow`), the Kafka transport and the RabbitMQ transport all order deliveries with it;
 * it knows nothing of handlers, tokens or timers, which stay with its callers.
 *
 * An entry moves through these states:
 *
 *     enqueue ─▶ waiting ─(earlier entry of its key settled)─▶ ready ─take─▶ taken ─ack─▶ settled
 *                  (or straight to ready: keyless, or its key idle)      ▲        │
 *                                                                  retry └─ parked ◀─release
 *
 * Contract:
 * - Per key, at most one entry is ready, taken or parked at a time: the key's head. The key's later
 *   entries wait, in offset order, until the head is acked. Releasing (a nack, a member leaving, a
 *   visibility timeout) keeps the key blocked, so a redelivery comes before anything later of its
 *   key. Keyless entries never wait and block nothing.
 * - `take` hands out ready entries in the order they became ready (enqueue order, except that a
 *   retried entry goes behind those already ready). Only per-key order is promised.
 * - The commit point is the offset of the lowest unsettled entry, or `nextOffset` when every entry
 *   is settled: everything below it is done, nothing at or above it is known to be.
 * - Bounds: `entriesMax` entries and `bytesMax` bytes. By default they count the window of a log
 *   transport: every entry from the commit point up, settled ones above an unsettled one included
 *   (the "acked ahead": a stuck entry stops the window from running ahead of it). With
 *   `counting: 'unsettled'` they count only entries not yet acked (a queue broker's prefetched
 *   messages, which it forgets once acked). Either way the window keeps no settled entry. The
 *   caller asks {@link KeyedFifo.hasRoom} before enqueueing; enqueueing without room is a bug and
 *   throws. An empty window always has room for one entry, however large, and the last entry
 *   admitted may take the bytes past `bytesMax` by its own size.
 * - Misuse (an offset not above the previous one, taking nothing, acking an entry that was never
 *   taken, retrying one that is not parked, settling an entry this window never handed out) throws
 *   an `InvariantError` (`@herald/errors`): these are programmer errors, checked always. Acking an
 *   already settled entry returns false and changes nothing, so a late settlement is harmless; so
 *   does anything done to an entry dropped by {@link KeyedFifo.reset}.
 *
 * Complexity: every operation is O(1) amortised — a FIFO of ready entries, per busy key a chain of
 * its entries (a map holds the key's last one), and a doubly linked list of the unsettled entries in offset order
 * (offsets are enqueued increasing, so its head is the commit point and an ack unlinks in O(1)).
 * The window's size and bytes come from enqueue counters: entries and bytes enqueued since the
 * head was. Only `reset` walks the (unsettled) entries. `npm run bench -- keyed-fifo`
 * (docs/benchmarks.md): ack + enqueue + take cost 0.2 µs with 100 in flight and 2.4 µs with
 * 100,000, the growth of bare memory accesses once the entries leave the CPU caches; the full scan
 * this replaced cost 9 µs and 22 ms.
 *
 * Invariants, asserted where they could break (cheap checks, always on, an `InvariantError` from
 * `@herald/errors` when one fails): offsets increase; the commit point never moves backwards
 * (except by `reset`, which says where to start); an entry settled, released or retried belongs
 * to this window; an unlinked entry is where its neighbours say, and the list is empty exactly
 * when no entry is unsettled; an entry promoted behind its key was waiting; only a ready entry is
 * taken; the taken count stays between 0 and the unsettled count, and the counted entries within
 * `entriesMax`. Their cost, measured against the window without them (interleaved in one process,
 * CPU time, best of 9 × 400,000 rounds of ack + enqueue + take + commitPoint): 0–3 % with 100 in
 * flight, no consistent difference with 10,000 (where runs move by ±15 %). The fast-check model
 * test (test/keyed-fifo.test.ts) checks the rest.
 */

import { InvariantError, invariant } from '@herald/errors';

/** Where an entry is in its life; read-only for callers. */
export type KeyedEntryState = 'waiting' | 'ready' | 'taken' | 'parked' | 'settled' | 'dropped';

/** One entry of a {@link KeyedFifo}: the caller's value and the fields the order depends on. */
export interface KeyedEntry<T> {
  readonly value: T;
  /** Entries with the same key go one at a time, in offset order; undefined: no order. */
  readonly key: string | undefined;
  /** Its position: increasing across the window (a Kafka or log offset, or a sequence). */
  readonly offset: bigint;
  /** What it counts against `bytesMax`. */
  readonly sizeBytes: number;
  /** Changed only by the window. */
  readonly state: KeyedEntryState;
  /**
   * The caller's slot, undefined when enqueued and never read by the window: `DeliveryWindow`
   * keeps the delivery holding the entry here, so finding it costs no map.
   */
  holder: unknown;
}

/** Bounds of a {@link KeyedFifo}. */
export interface KeyedFifoLimits {
  /** Most entries counted (at least 1). */
  readonly entriesMax: number;
  /** Most bytes of those entries (default unbounded: the count bounds the window). */
  readonly bytesMax?: number;
  /**
   * What the bounds count: `'window'` (default) every entry from the commit point up, settled ones
   * above it included; `'unsettled'` only entries not yet acked.
   */
  readonly counting?: 'window' | 'unsettled';
}

/**
 * One entry of a {@link KeyedFifo}, with the window's bookkeeping. {@link KeyedFifo.enqueue} makes
 * one around a caller's value; a caller that builds an object per entry anyway may instead extend
 * this class with its own fields, pass the object itself as its value, and hand it to
 * {@link KeyedFifo.enqueueEntry}: one object per entry instead of two (the consumer group's
 * catch-up allocated 160 bytes per message for the window's entry beside its own).
 */
export class KeyedFifoEntry<T> implements KeyedEntry<T> {
  /** The caller's value (the entry itself for a subclass enqueued with `enqueueEntry`). */
  value: T;
  readonly key: string | undefined;
  readonly offset: bigint;
  readonly sizeBytes: number;
  state: KeyedEntryState = 'ready';
  holder: unknown = undefined;
  /** Entries enqueued before this one since the last reset (set when enqueued). */
  index = 0;
  /** Bytes enqueued before this one since the last reset (set when enqueued). */
  bytesBefore = 0;
  /**
   * The window that handed it out, set when enqueued: a settlement names an entry of this window,
   * not another's, and an entry is enqueued once.
   */
  owner: KeyedFifo<T> | undefined = undefined;
  /** Neighbours in the list of unsettled entries. */
  previous: KeyedFifoEntry<T> | undefined = undefined;
  next: KeyedFifoEntry<T> | undefined = undefined;
  /** The next entry of the same key, waiting behind this one. */
  nextOfKey: KeyedFifoEntry<T> | undefined = undefined;

  /** A subclass that is its own value passes undefined as `value` and sets it right after `super`. */
  constructor(value: T, key: string | undefined, offset: bigint, sizeBytes: number) {
    this.value = value;
    this.key = key;
    this.offset = offset;
    this.sizeBytes = sizeBytes;
  }
}

type Entry<T> = KeyedFifoEntry<T>;

/**
 * Fails loudly: the window's own bookkeeping or its caller is wrong (a bug, not a condition).
 * Checks whose message carries values call it behind an `if`, so the hot path builds no string;
 * the others use `invariant` with a literal.
 */
function fail(message: string): never {
  throw new InvariantError(`KeyedFifo: ${message}`);
}

/**
 * An array used as a queue: a head and a tail index instead of `shift()`, the spent front moved
 * down in place once it is over half the array. The array is kept when the queue empties, so a
 * queue that fills and drains all the time (a catch-up's ready entries) does not grow a new array
 * from nothing each time: that cost 28 bytes of garbage per entry. Bounded: slots are at most
 * twice the most entries queued at once, plus 1,024 (the least spent front worth moving).
 */
class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  /** One past the last item. */
  #tail = 0;

  get length(): number {
    return this.#tail - this.#head;
  }

  push(item: T): void {
    this.#items[this.#tail++] = item;
  }

  shift(): T | undefined {
    if (this.#head >= this.#tail) return undefined;
    const items = this.#items;
    const item = items[this.#head]!;
    // A spent slot must not keep its entry alive.
    items[this.#head++] = undefined;
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#tail) {
      const length = this.#tail - this.#head;
      items.copyWithin(0, this.#head, this.#tail);
      items.fill(undefined, length, this.#tail);
      this.#head = 0;
      this.#tail = length;
    }
    return item;
  }
}

/** A keyed FIFO with a commit point: see the file's comment for the contract. */
export class KeyedFifo<T> {
  readonly #entriesMax: number;
  readonly #bytesMax: number;
  readonly #countingUnsettled: boolean;
  /** The unsettled entries, a doubly linked list in offset order: the first is the commit point. */
  #first: Entry<T> | undefined;
  #last: Entry<T> | undefined;
  /** Entries that may be taken now. */
  #ready = new Queue<Entry<T>>();
  /**
   * Per key with an unsettled entry: its last entry. The key's entries form a chain from its head
   * (the one not waiting) through `nextOfKey`, so a key costs no queue of its own.
   */
  readonly #keyLast = new Map<string, Entry<T>>();
  /** Entries and bytes enqueued since the last reset. */
  #enqueuedCount = 0;
  #enqueuedBytes = 0;
  #unsettledCount = 0;
  #unsettledBytes = 0;
  #takenCount = 0;
  #nextOffset: bigint;
  /** The last commit point reported: the next one must not be below it (until a reset). */
  #commitPointReported: bigint;

  /** `nextOffset`: the first offset expected (the commit point while the window is empty). */
  constructor(limits: KeyedFifoLimits, nextOffset = 0n) {
    invariant(Number.isInteger(limits.entriesMax) && limits.entriesMax >= 1, 'KeyedFifo: entriesMax >= 1');
    invariant((limits.bytesMax ?? 1) > 0, 'KeyedFifo: bytesMax > 0');
    this.#entriesMax = limits.entriesMax;
    this.#bytesMax = limits.bytesMax ?? Number.POSITIVE_INFINITY;
    this.#countingUnsettled = limits.counting === 'unsettled';
    this.#nextOffset = nextOffset;
    this.#commitPointReported = nextOffset;
  }

  /** Entries from the commit point up: unsettled ones and the settled ones above the first. */
  get size(): number {
    return this.#first === undefined ? 0 : this.#enqueuedCount - this.#first.index;
  }

  /** Bytes of those entries. */
  get bytes(): number {
    return this.#first === undefined ? 0 : this.#enqueuedBytes - this.#first.bytesBefore;
  }

  /** Entries not yet acked (waiting, ready, taken or parked). */
  get unsettledCount(): number {
    return this.#unsettledCount;
  }

  /** Bytes of those entries. */
  get unsettledBytes(): number {
    return this.#unsettledBytes;
  }

  /** Entries taken and not yet acked or released. */
  get takenCount(): number {
    return this.#takenCount;
  }

  /** Whether {@link take} would return an entry. */
  get hasReady(): boolean {
    return this.#ready.length > 0;
  }

  /** One past the highest offset enqueued or skipped: the next offset expected. */
  get nextOffset(): bigint {
    return this.#nextOffset;
  }

  /**
   * Whether one more entry may be enqueued now: fewer than `entriesMax` entries and fewer than
   * `bytesMax` bytes (so the last entry admitted may overshoot the bytes by its own size), or none.
   */
  hasRoom(): boolean {
    const count = this.#countingUnsettled ? this.#unsettledCount : this.size;
    if (count === 0) return true;
    const bytes = this.#countingUnsettled ? this.#unsettledBytes : this.bytes;
    return count < this.#entriesMax && bytes < this.#bytesMax;
  }

  /**
   * Adds an entry at `offset` (default {@link nextOffset}; must not be below it) behind every
   * earlier entry of its key. Throws when the window has no room: ask {@link hasRoom} first.
   */
  enqueue(value: T, key: string | undefined, offset = this.#nextOffset, sizeBytes = 0): KeyedEntry<T> {
    const entry = new KeyedFifoEntry(value, key, offset, sizeBytes);
    this.enqueueEntry(entry);
    return entry;
  }

  /**
   * {@link enqueue} of an entry the caller built (a subclass of {@link KeyedFifoEntry}), at its
   * `offset`, which must not be below {@link nextOffset}. An entry is enqueued once, in one window.
   */
  enqueueEntry(entry: KeyedFifoEntry<T>): void {
    const { key, offset, sizeBytes } = entry;
    if (!(offset >= this.#nextOffset)) fail(`offset ${offset} below the next offset ${this.#nextOffset}`);
    if (!this.hasRoom()) fail(`enqueue without room (${this.size} entries, ${this.bytes} bytes)`);
    if (entry.owner !== undefined) fail(`enqueue of the entry at ${offset} a second time`);
    entry.state = 'ready';
    entry.index = this.#enqueuedCount;
    entry.bytesBefore = this.#enqueuedBytes;
    entry.owner = this;
    entry.previous = this.#last;
    if (this.#last === undefined) this.#first = entry;
    else this.#last.next = entry;
    this.#last = entry;
    this.#enqueuedCount += 1;
    this.#enqueuedBytes += sizeBytes;
    this.#unsettledCount += 1;
    this.#unsettledBytes += sizeBytes;
    this.#nextOffset = offset + 1n;
    // hasRoom admitted it below the bound, so the count now is at most the bound.
    invariant(
      (this.#countingUnsettled ? this.#unsettledCount : this.size) <= this.#entriesMax,
      'KeyedFifo: counted entries within entriesMax',
    );
    if (key !== undefined) {
      const keyLast = this.#keyLast.get(key);
      this.#keyLast.set(key, entry);
      if (keyLast !== undefined) {
        entry.state = 'waiting';
        keyLast.nextOfKey = entry;
        return;
      }
    }
    this.#ready.push(entry);
  }

  /**
   * Declares that no entry below `offset` will be enqueued (a gap: skipped or already-acked
   * records). Moves the commit point when the window is empty. `offset` must not go backwards.
   */
  skipTo(offset: bigint): void {
    if (!(offset >= this.#nextOffset)) fail(`skipTo(${offset}) below the next offset ${this.#nextOffset}`);
    this.#nextOffset = offset;
  }

  /** The next ready entry, now taken (the caller delivers it), or undefined when none is ready. */
  take(): KeyedEntry<T> | undefined {
    const entry = this.#ready.shift();
    if (entry === undefined) return undefined;
    if (!(entry.state === 'ready')) fail(`took a ${entry.state} entry at ${entry.offset}`);
    entry.state = 'taken';
    this.#takenCount += 1;
    invariant(this.#takenCount <= this.#unsettledCount, 'KeyedFifo: taken entries are unsettled ones');
    return entry;
  }

  /**
   * Settles a taken or parked entry: the next entry of its key becomes ready and the commit point
   * may move. Returns false, changing nothing, for an entry already settled or dropped.
   */
  ack(handle: KeyedEntry<T>): boolean {
    const entry = this.#own(handle, 'ack');
    if (entry.state === 'settled' || entry.state === 'dropped') return false;
    if (!(entry.state === 'taken' || entry.state === 'parked')) fail(`ack of a ${entry.state} entry`);
    if (entry.state === 'taken') this.#takenCount -= 1;
    entry.state = 'settled';
    if (entry.key !== undefined) this.#promoteBehind(entry, entry.key);
    this.#unlink(entry);
    return true;
  }

  /**
   * Returns a taken entry without settling it (a nack). It stays parked, its key still blocked,
   * until {@link retry} (immediately: `readyNow`) makes it ready again. Returns false for an entry
   * dropped by {@link reset}.
   */
  release(handle: KeyedEntry<T>, readyNow = false): boolean {
    const entry = this.#own(handle, 'release');
    if (entry.state === 'dropped') return false;
    if (!(entry.state === 'taken')) fail(`release of a ${entry.state} entry`);
    this.#takenCount -= 1;
    invariant(this.#takenCount >= 0, 'KeyedFifo: taken count never negative');
    entry.state = 'parked';
    if (readyNow) this.retry(entry);
    return true;
  }

  /** Makes a parked entry ready again, behind the entries already ready. False if dropped. */
  retry(handle: KeyedEntry<T>): boolean {
    const entry = this.#own(handle, 'retry');
    if (entry.state === 'dropped') return false;
    if (!(entry.state === 'parked')) fail(`retry of a ${entry.state} entry`);
    entry.state = 'ready';
    this.#ready.push(entry);
    return true;
  }

  /** The lowest unsettled offset, or {@link nextOffset} when every entry is settled. */
  commitPoint(): bigint {
    const point = this.#first?.offset ?? this.#nextOffset;
    if (point < this.#commitPointReported)
      fail(`commit point ${point} below ${this.#commitPointReported}, reported before`);
    this.#commitPointReported = point;
    return point;
  }

  /**
   * Forgets every entry (later calls on unsettled ones do nothing and return false) and starts
   * again at `nextOffset` (default: where the window was). O(unsettled entries).
   */
  reset(nextOffset = this.#nextOffset): void {
    for (let entry = this.#first; entry !== undefined; entry = entry.next) entry.state = 'dropped';
    this.#first = undefined;
    this.#last = undefined;
    this.#ready = new Queue();
    this.#keyLast.clear();
    this.#enqueuedCount = 0;
    this.#enqueuedBytes = 0;
    this.#unsettledCount = 0;
    this.#unsettledBytes = 0;
    this.#takenCount = 0;
    this.#nextOffset = nextOffset;
    this.#commitPointReported = nextOffset;
  }

  /** The entry behind a caller's handle, which must be one this window handed out. */
  #own(handle: KeyedEntry<T>, operation: string): Entry<T> {
    const entry = handle as Entry<T>;
    if (entry.owner !== this)
      fail(`${operation} of an entry this window never handed out (another window's?)`);
    return entry;
  }

  /** The key's head was acked: the next entry behind it becomes ready, or the key goes idle. */
  #promoteBehind(head: Entry<T>, key: string): void {
    const next = head.nextOfKey;
    head.nextOfKey = undefined;
    if (next === undefined) {
      if (this.#keyLast.get(key) !== head) fail(`acked head of key "${key}" is not its last entry`);
      this.#keyLast.delete(key);
      return;
    }
    if (next.state !== 'waiting') fail(`a ${next.state} entry behind key "${key}"`);
    next.state = 'ready';
    this.#ready.push(next);
  }

  /** Takes a settled entry out of the unsettled list. */
  #unlink(entry: Entry<T>): void {
    const { previous, next } = entry;
    invariant(
      previous === undefined ? this.#first === entry : previous.next === entry,
      'KeyedFifo: list broken',
    );
    invariant(next === undefined ? this.#last === entry : next.previous === entry, 'KeyedFifo: list broken');
    if (previous === undefined) this.#first = next;
    else previous.next = next;
    if (next === undefined) this.#last = previous;
    else next.previous = previous;
    entry.previous = undefined;
    entry.next = undefined;
    this.#unsettledCount -= 1;
    this.#unsettledBytes -= entry.sizeBytes;
    invariant(this.#unsettledCount >= 0 && this.#takenCount >= 0, 'KeyedFifo: counters never negative');
    invariant(this.#takenCount <= this.#unsettledCount, 'KeyedFifo: taken entries are unsettled ones');
    invariant(
      (this.#first === undefined) === (this.#unsettledCount === 0),
      'KeyedFifo: list and count agree',
    );
  }
}
