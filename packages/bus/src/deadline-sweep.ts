/**
 * Handler deadlines with one timer per dispatcher instead of a `setTimeout` per handled message.
 *
 * Why: a timer per message (start, then clear) measured 1–2 µs of CPU per message, 3–5% of the
 * bus's end to end, plus its garbage. Every handler registration has one `timeoutMs`, so the
 * deadlines of runs with the same timeout come in start order: each such timeout keeps a FIFO of
 * its runs, and one timer is armed for the earliest head. A run that ends is only marked; the
 * marked entries are dropped when they reach the head, when the timer fires, or by a compaction.
 *
 * Bounds: a FIFO holds the runs not yet ended plus ended ones not yet dropped; it is compacted
 * once it holds more than twice the running ones plus {@link COMPACT_SLACK}, so its length stays
 * under 2 × (handlers running) + 64, and the handlers running are bounded by the dispatcher's
 * concurrency. When nothing runs, the FIFOs are emptied and the timer, left armed for its
 * deadline (it re-arms only if a run is due), no longer keeps the process alive.
 */

/** Ended entries a FIFO may hold beyond twice its running ones before it is compacted. */
const COMPACT_SLACK = 64;

/** One handler run's deadline; pass it to {@link DeadlineSweep.settle} once the run ends. */
export interface Deadline {
  /** `performance.now()` time after which the run is expired. */
  readonly atMs: number;
  /** Called once, when the deadline passes before the run ends. */
  readonly onExpired: () => void;
  /** True once settled or expired. */
  done: boolean;
}

/** The runs of one timeout, in start order (so in deadline order). */
interface Queue {
  entries: Deadline[];
  /** Index of the first entry still held (entries before it were dropped). */
  head: number;
}

/** One timer over the deadlines of a dispatcher's handler runs (see the module comment). */
export class DeadlineSweep {
  readonly #queues = new Map<number, Queue>();
  #running = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for (`Infinity` when none). */
  #armedAtMs = Number.POSITIVE_INFINITY;

  /** Runs started and not yet settled or expired. */
  get running(): number {
    return this.#running;
  }

  /** Entries held, ended or not (bounded: see the module comment). */
  get held(): number {
    let held = 0;
    for (const queue of this.#queues.values()) held += queue.entries.length - queue.head;
    return held;
  }

  /** Starts tracking a run that must end within `timeoutMs`; `onExpired` runs if it does not. */
  add(timeoutMs: number, onExpired: () => void): Deadline {
    const deadline: Deadline = { atMs: performance.now() + timeoutMs, onExpired, done: false };
    let queue = this.#queues.get(timeoutMs);
    if (queue === undefined) {
      queue = { entries: [], head: 0 };
      this.#queues.set(timeoutMs, queue);
    }
    queue.entries.push(deadline);
    this.#running += 1;
    if (deadline.atMs < this.#armedAtMs) this.#arm(deadline.atMs);
    // A handler still running keeps the process alive until its deadline, as its own timer did.
    else if (this.#running === 1) this.#timer?.ref();
    const held = queue.entries.length - queue.head;
    if (held > 2 * this.#running + COMPACT_SLACK) compact(queue);
    return deadline;
  }

  /** Marks a run as ended; its deadline no longer fires. Harmless after expiry. */
  settle(deadline: Deadline): void {
    if (deadline.done) return;
    deadline.done = true;
    this.#running -= 1;
    if (this.#running > 0) return;
    // Nothing runs: every held entry has ended, so drop them all. The timer stays armed (a new
    // timer per run is what this module avoids) but no longer keeps the process alive.
    for (const queue of this.#queues.values()) {
      queue.entries = [];
      queue.head = 0;
    }
    this.#timer?.unref();
  }

  #arm(atMs: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAtMs = atMs;
    // Node rounds a timer to whole milliseconds: ceil, so it never fires before the deadline.
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, Math.ceil(atMs - performance.now())));
  }

  /** Fires the deadlines that passed, drops ended entries, and arms the timer for the next one. */
  #sweep(): void {
    this.#timer = undefined;
    this.#armedAtMs = Number.POSITIVE_INFINITY;
    const nowMs = performance.now();
    const expired: Deadline[] = [];
    let nextMs = Number.POSITIVE_INFINITY;
    for (const [timeoutMs, queue] of this.#queues) {
      const { entries } = queue;
      while (queue.head < entries.length) {
        const entry = entries[queue.head]!;
        if (!entry.done && entry.atMs > nowMs) break;
        queue.head += 1;
        if (!entry.done) {
          entry.done = true;
          this.#running -= 1;
          expired.push(entry);
        }
      }
      if (queue.head === entries.length) this.#queues.delete(timeoutMs);
      else {
        if (queue.head > COMPACT_SLACK && queue.head * 2 > entries.length) compact(queue);
        nextMs = Math.min(nextMs, entries[queue.head]!.atMs);
      }
    }
    if (nextMs !== Number.POSITIVE_INFINITY) this.#arm(nextMs);
    // After the bookkeeping, so a callback that adds or settles runs sees a consistent sweep.
    for (const entry of expired) entry.onExpired();
  }
}

/** Removes the dropped and ended entries of `queue`, keeping the order of the others. */
function compact(queue: Queue): void {
  const kept: Deadline[] = [];
  for (let index = queue.head; index < queue.entries.length; index++) {
    const entry = queue.entries[index]!;
    if (!entry.done) kept.push(entry);
  }
  queue.entries = kept;
  queue.head = 0;
}
