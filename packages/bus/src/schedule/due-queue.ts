/**
 * `DueQueue`: entries waiting for their time, ordered by it in a binary min-heap, with one timer
 * armed for the earliest. No polling: the timer fires when the head is due, hands every due entry
 * to `onDue` in time order, and re-arms for the next head. The memory transport and the embedded
 * broker keep their scheduled messages in one.
 */

/** Longest a single timer is armed; Node.js clamps longer ones to 1 ms, so far heads re-arm. */
const TIMER_MS_MAX = 60 * 60 * 1000;

interface Slot<T> {
  readonly id: string;
  readonly atMs: number;
  readonly value: T;
  /** Insertion order, so entries due at the same ms keep it. */
  readonly sequence: number;
  index: number;
}

/** A min-heap of entries by due time with one timer for the head. */
export class DueQueue<T> {
  readonly #heap: Slot<T>[] = [];
  readonly #byId = new Map<string, Slot<T>>();
  readonly #onDue: (due: readonly { id: string; atMs: number; value: T }[]) => void;
  readonly #clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs = Number.POSITIVE_INFINITY;
  #sequence = 0;
  #closed = false;
  /** Set while the timer's handler takes due entries, so removals do not re-arm in between. */
  #firing = false;

  /**
   * `onDue` receives the due entries (already removed) each time the timer fires; it must not
   * throw (a failure to deliver is the caller's to handle, e.g. by adding the entry again).
   */
  constructor(onDue: (due: readonly { id: string; atMs: number; value: T }[]) => void, clock = Date.now) {
    this.#onDue = onDue;
    this.#clock = clock;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Whether `id` waits. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** The waiting entry `id`, if any. */
  get(id: string): { atMs: number; value: T } | undefined {
    return this.#byId.get(id);
  }

  /** Adds (or replaces) entry `id`, due at `atMs`. */
  add(id: string, atMs: number, value: T): void {
    if (this.#closed) return;
    this.remove(id);
    const slot: Slot<T> = { id, atMs, value, sequence: this.#sequence++, index: this.#heap.length };
    this.#heap.push(slot);
    this.#byId.set(id, slot);
    this.#up(slot.index);
    this.#arm();
  }

  /** Removes entry `id`; returns it, or undefined when it was not waiting. */
  remove(id: string): T | undefined {
    const slot = this.#byId.get(id);
    if (slot === undefined) return undefined;
    this.#byId.delete(id);
    const last = this.#heap.pop()!;
    if (last !== slot) {
      this.#heap[slot.index] = last;
      last.index = slot.index;
      this.#down(last.index);
      this.#up(last.index);
    }
    this.#arm();
    return slot.value;
  }

  /** Every waiting entry, in no particular order. */
  *entries(): IterableIterator<{ id: string; atMs: number; value: T }> {
    for (const slot of this.#heap) yield slot;
  }

  /** Stops the timer and forgets every entry. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#heap.length = 0;
    this.#byId.clear();
  }

  #arm(): void {
    if (this.#firing) return;
    const head = this.#heap[0];
    if (head === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAtMs = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.#timer !== undefined && this.#timerAtMs <= head.atMs) return;
    clearTimeout(this.#timer);
    const waitMs = Math.min(Math.max(0, head.atMs - this.#clock()), TIMER_MS_MAX);
    this.#timerAtMs = head.atMs;
    // Not unref'd: a message waiting for its time is pending work that keeps the process alive
    // until the transport is closed, as an unsettled publish would.
    this.#timer = setTimeout(() => this.#fire(), waitMs);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    const nowMs = this.#clock();
    const due: { id: string; atMs: number; value: T }[] = [];
    this.#firing = true;
    try {
      while (this.#heap.length > 0 && this.#heap[0]!.atMs <= nowMs) {
        const head = this.#heap[0]!;
        this.remove(head.id);
        due.push({ id: head.id, atMs: head.atMs, value: head.value });
      }
    } finally {
      this.#firing = false;
    }
    this.#arm();
    if (due.length > 0) this.#onDue(due);
  }

  #less(a: Slot<T>, b: Slot<T>): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.sequence < b.sequence);
  }

  #swap(i: number, j: number): void {
    const a = this.#heap[i]!;
    const b = this.#heap[j]!;
    this.#heap[i] = b;
    this.#heap[j] = a;
    a.index = j;
    b.index = i;
  }

  #up(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(this.#heap[i]!, this.#heap[parent]!)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(index: number): void {
    let i = index;
    const n = this.#heap.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && this.#less(this.#heap[left]!, this.#heap[smallest]!)) smallest = left;
      if (right < n && this.#less(this.#heap[right]!, this.#heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      this.#swap(i, smallest);
      i = smallest;
    }
  }
}
