/**
 * One assigned partition's read window: the records fetched and not yet committable, in offset
 * order, with per-key delivery order and the commit point.
 *
 * - The commit point is the offset of the lowest unfinished record (or the next offset to fetch
 *   when every fetched record is acked): Kafka's committed offset means "everything below is
 *   done", so nothing acked-ahead of an unfinished record is committed, and a restart or a new
 *   owner redelivers from there.
 * - A record is ready when no earlier record of its key is unfinished; the others of its key wait
 *   behind it in a per-key FIFO. Keyless records are always ready. Every step is O(1).
 * - A nacked record keeps its key busy while its delay runs, so no later record of the key
 *   overtakes it.
 */

/** A fetched record as the window tracks it. */
export interface WindowRecord {
  readonly window: PartitionWindow;
  readonly offset: bigint;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  /** 1 on first delivery, +1 per nack. */
  attempt: number;
  /** Non-zero while delivered; changes per delivery so a stale settlement is ignored. */
  token: number;
  /** Acked. */
  done: boolean;
}

/** The read state of one partition this member owns. */
export class PartitionWindow {
  readonly partition: number;
  /** Next offset to fetch; undefined until the starting position is known. */
  nextFetch: bigint | undefined;
  /** Offset last committed (or the starting position). */
  committed: bigint | undefined;
  /** False once revoked: settlements of its records then do nothing. */
  owned = true;
  /** Fetched records not below the commit point, in offset order; `#head` skips the done prefix. */
  #records: WindowRecord[] = [];
  #head = 0;
  /** Records free to deliver, in order; `#readyHead` skips delivered ones. */
  #ready: WindowRecord[] = [];
  #readyHead = 0;
  /** Per busy key: the records waiting behind its unfinished one. */
  readonly #waiting = new Map<string, WindowRecord[]>();

  constructor(partition: number) {
    this.partition = partition;
  }

  /** Records held (fetched, not below the commit point). */
  get size(): number {
    return this.#records.length - this.#head;
  }

  /** Whether a record can be delivered now. */
  get hasReady(): boolean {
    return this.#readyHead < this.#ready.length;
  }

  /** Sets the starting position (the committed offset, or the log start for a new group). */
  start(offset: bigint): void {
    this.nextFetch = offset;
    this.committed = offset;
  }

  /** Adds a fetched record (offsets must increase). */
  push(
    offset: bigint,
    key: string | undefined,
    headers: Readonly<Record<string, string>>,
    body: Uint8Array,
    timestampMs: number,
  ): void {
    const entry: WindowRecord = {
      window: this,
      offset,
      key,
      headers,
      body,
      timestampMs,
      attempt: 1,
      token: 0,
      done: false,
    };
    this.#records.push(entry);
    this.nextFetch = offset + 1n;
    if (key !== undefined) {
      const behind = this.#waiting.get(key);
      if (behind !== undefined) {
        behind.push(entry);
        return;
      }
      this.#waiting.set(key, []);
    }
    this.#ready.push(entry);
  }

  /** Takes the next ready record, or undefined. */
  take(): WindowRecord | undefined {
    if (this.#readyHead >= this.#ready.length) return undefined;
    const entry = this.#ready[this.#readyHead++]!;
    if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    return entry;
  }

  /** A nacked record whose delay passed: ready again, ahead of nothing of its key (it still holds it). */
  retry(entry: WindowRecord): void {
    this.#ready.push(entry);
  }

  /** `entry` was acked: the next record of its key becomes ready; the commit point may move. */
  finish(entry: WindowRecord): void {
    entry.done = true;
    const key = entry.key;
    if (key !== undefined) {
      const behind = this.#waiting.get(key);
      const next = behind?.shift();
      if (next === undefined) this.#waiting.delete(key);
      else this.#ready.push(next);
    }
    while (this.#head < this.#records.length && this.#records[this.#head]!.done) this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The offset that may be committed: the lowest unfinished record's, or the next to fetch. */
  commitPoint(): bigint | undefined {
    if (this.#head < this.#records.length) return this.#records[this.#head]!.offset;
    return this.nextFetch;
  }

  /** Forgets every record (revocation). */
  clear(): void {
    this.owned = false;
    this.#records = [];
    this.#head = 0;
    this.#ready = [];
    this.#readyHead = 0;
    this.#waiting.clear();
  }
}
