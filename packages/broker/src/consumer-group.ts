/**
 * One consumer group reading one topic: a bounded window of records per partition read from the
 * log, the group's durable position (committed offsets and acked-ahead records), and a visibility
 * timeout on deliveries. Each partition's window is `@herald/bus`'s `KeyedFifo` (per-key order,
 * bounds, commit point); members, nack delays and token-checked settlement are its `DeliveryWindow`.
 *
 * Per partition the window holds records from the committed offset up to the next offset to fetch,
 * in offset order. A record is delivered only when no earlier unacked record of the same key is in
 * the window, so a key's next message waits for the previous one's ack; records of other keys
 * flow in parallel up to each member's `inFlightMax`. Acks are individual; the committed offset
 * moves only over a contiguous acked prefix, and acked records above it are stored as "acked ahead"
 * so a restart does not redeliver them.
 *
 * Across partitions delivery is round-robin: the group takes one deliverable record from each
 * partition in turn, each partition in offset order. Only per-key order is promised.
 */
import type { MessageHandler } from '@herald/bus';
import { Delivered, DeliveryWindow, KeyedFifo } from '@herald/bus/internal';
import { GroupActiveError } from './errors.ts';
import { type Entry, ReadEntries } from './group-entry.ts';
import { ACKS_UNSTORED_MAX, ADMITTED_PER_TURN_MAX, type ConsumerGroupLimits } from './group-limits.ts';
import { broken } from './invariant.ts';
import type { PartitionLog } from './partition-log.ts';
import type { GroupPosition, PartitionPosition } from './position-journal.ts';
import { UnstoredAcks } from './unstored-acks.ts';

export { ACKS_UNSTORED_MAX, ADMITTED_PER_TURN_MAX, type ConsumerGroupLimits } from './group-limits.ts';

/**
 * Where a group stores its position: `store` calls `position` when its write starts and resolves
 * once that write is durable (the broker's {@link GroupPositions}, shared by every group).
 */
export type StorePosition = (position: () => GroupPosition) => Promise<void>;

/** What a group needs from its topic. */
export interface GroupTopic {
  readonly name: string;
  readonly logs: readonly PartitionLog[];
}

/** Delay before a failed log read is retried. */
const READ_RETRY_DELAY_MS = 1_000;

interface PartitionState {
  readonly partition: number;
  /** Next offset not yet acked. */
  committed: bigint;
  /**
   * Records from `committed` up, in offset order; its `nextOffset` is the next offset to admit
   * (read from the log or taken from `readAhead`), its commit point the next `committed`.
   */
  readonly window: KeyedFifo<Entry>;
  /** Offsets acked above the commit point (pruned as it passes them), for the stored position. */
  readonly ackedInWindow: Set<bigint>;
  /**
   * Records of the last log read not yet admitted (the window was full), in offset order, decoded
   * into entries a batch at a time as they are taken (`ReadEntries` in group-entry.ts). Bounded by one read: `fetchBytesMax` bytes, or one whole batch when that is
   * larger, of which at most one batch is decoded. The log is read again only once it is spent.
   */
  readAhead: ReadEntries | undefined;
  /** Acked offsets at or above `nextFetchOffset` (from the stored position): skipped when read. */
  readonly ackedAhead: Set<bigint>;
  fetching: boolean;
  retryTimer: NodeJS.Timeout | undefined;
}

/** The group state machine. */
export class ConsumerGroup {
  readonly name: string;
  readonly #topic: GroupTopic;
  readonly #storePosition: StorePosition;
  readonly #limits: ConsumerGroupLimits;
  readonly #partitions: PartitionState[];
  /** The partitions' windows, in partition order, as the delivery takes from them round-robin. */
  readonly #windows: KeyedFifo<Entry>[];
  readonly #delivery: DeliveryWindow<Entry>;
  readonly #pendingReads = new Set<Promise<unknown>>();
  readonly #onError: (error: unknown) => void;
  #closed = false;
  /**
   * No held delivery expires before this (ms since the epoch; a delivery acked since may have set
   * it early). Scans run on every ack: this keeps them from walking every held delivery each time.
   */
  #expiryMsNext = Number.POSITIVE_INFINITY;
  /** Bumped by a reset, so reads started before it are dropped. */
  #generation = 0;
  /** The last position write requested (settled: its caller sees the failure). */
  #lastWrite: Promise<unknown> = Promise.resolve();
  /** This group's acks whose position write has not finished; see {@link ACKS_UNSTORED_MAX}. */
  #acksUnstored = 0;
  /** Those of every group of the broker, which the bound counts. */
  readonly #unstored: UnstoredAcks;
  /** Records admitted since the event loop last turned; see {@link ADMITTED_PER_TURN_MAX}. */
  #admittedInTurn = 0;
  /** The admission resuming on the next turn, once the budget of this one is spent. */
  #nextTurn: NodeJS.Immediate | undefined;
  /** The write request whose position the store has not read yet, which new acks join. */
  #openRequest: WriteRequest | undefined;

  /**
   * `stored` is the group's stored position (undefined for a new group); `unstored` the broker's
   * count of acks waiting for their write, shared by its groups (default: the group's own, bounded
   * by {@link ACKS_UNSTORED_MAX}).
   */
  constructor(
    topic: GroupTopic,
    name: string,
    stored: GroupPosition | undefined,
    storePosition: StorePosition,
    limits: ConsumerGroupLimits,
    onError: (error: unknown) => void,
    unstored: UnstoredAcks = new UnstoredAcks(ACKS_UNSTORED_MAX),
  ) {
    this.name = name;
    this.#unstored = unstored;
    this.#topic = topic;
    this.#storePosition = storePosition;
    this.#limits = limits;
    this.#onError = onError;
    this.#partitions = topic.logs.map((log, partition) => {
      const position = stored?.get(partition);
      let committed = position?.committed ?? log.logStartOffset;
      // Retention may have removed what the group had not read; a truncated log may end earlier.
      if (committed < log.logStartOffset) committed = log.logStartOffset;
      if (committed > log.highWatermark) committed = log.highWatermark;
      const ackedAhead = new Set((position?.ackedAhead ?? []).filter((offset) => offset >= committed));
      const window = new KeyedFifo<Entry>(
        { entriesMax: limits.windowRecordsMax, bytesMax: limits.windowBytesMax },
        committed,
      );
      return {
        partition,
        committed,
        window,
        ackedInWindow: new Set<bigint>(),
        readAhead: undefined,
        ackedAhead,
        fetching: false,
        retryTimer: undefined,
      };
    });
    this.#windows = this.#partitions.map((state) => state.window);
    this.#delivery = new DeliveryWindow<Entry>({
      windows: () => this.#windows,
      beforeScan: (nowMs) => this.#expireHeld(nowMs),
      message: (entry, attempt, hold) =>
        new Delivered(
          topic.name,
          entry.partition,
          String(entry.offset),
          entry.key,
          entry.headers,
          entry.body,
          entry.timestampMs,
          attempt,
          hold,
        ),
      onDeliver: ({ value }, nowMs) => {
        const visibleAtMs = nowMs + limits.visibilityTimeoutMs;
        value.visibleAtMs = visibleAtMs;
        // Only a deadline earlier than every held one needs the timer: the scan delivering this
        // sets it for the earliest one (what `beforeScan` returned) when it ends. Storing and
        // passing a time (not a small integer) costs a heap number each, per delivery.
        if (visibleAtMs < this.#expiryMsNext) {
          this.#expiryMsNext = visibleAtMs;
          this.#delivery.wakeAt(visibleAtMs);
        }
      },
      onAck: ({ value }) => {
        const state = this.#partitions[value.partition]!;
        this.#advance(state);
        // Only an ack above the commit point (out of order) is remembered; the rest is `committed`.
        if (value.offset >= state.committed) state.ackedInWindow.add(value.offset);
        this.#checkPartition(state);
        const stored = this.#requestWrite(1);
        // No pump here: the delivery window scans after onAck returns (or once its run of handlers ends).
        this.#refill(state);
        return stored;
      },
    });
  }

  /**
   * This group's acks waiting for their position write (with the other groups sharing its count,
   * at most {@link ACKS_UNSTORED_MAX} plus the windows).
   */
  get acksUnstoredCount(): number {
    return this.#acksUnstored;
  }

  /** A position write finished (stored or not): its acks no longer count; resume admission once back under the bound. */
  #written(request: WriteRequest): void {
    // A write refused before its round read the position (a closed store) is no request to join.
    if (this.#openRequest === request) this.#openRequest = undefined;
    this.#acksUnstored -= request.acks;
    // Wakes the groups (this one among them) that stopped admitting at the bound.
    this.#unstored.remove(request.acks);
  }

  /** Live members. */
  get memberCount(): number {
    return this.#delivery.memberCount;
  }

  /** Adds a member and starts delivering to it. */
  join(handler: MessageHandler, inFlightMax: number): { leave(): Promise<void> } {
    const member = this.#delivery.join(handler, inFlightMax);
    this.#fetchAll();
    return { leave: async () => this.#delivery.leave(member) };
  }

  /** Records were appended to `partition`: read them if the window has room. */
  onAppend(partition: number): void {
    const state = this.#partitions[partition];
    if (state !== undefined) this.#fetch(state);
  }

  /** The in-memory position (what the next write stores). */
  position(): Map<number, PartitionPosition> {
    const position = new Map<number, PartitionPosition>();
    for (const state of this.#partitions) {
      for (const offset of state.ackedInWindow)
        if (offset < state.committed) state.ackedInWindow.delete(offset);
      const ackedAhead = [...state.ackedInWindow, ...state.ackedAhead].filter(
        (offset) => offset >= state.committed,
      );
      ackedAhead.sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
      position.set(state.partition, { committed: state.committed, ackedAhead });
    }
    return position;
  }

  /**
   * Moves the group's position to `offsetOf(partition)` for every partition, forgetting unsettled
   * deliveries; refused while members are live. Resolves once stored.
   */
  async reset(offsetOf: (partition: number) => Promise<bigint> | bigint): Promise<void> {
    if (this.memberCount > 0) throw new GroupActiveError(this.name, this.#topic.name, this.memberCount);
    const targets = await Promise.all(this.#partitions.map((state) => offsetOf(state.partition)));
    if (this.memberCount > 0) throw new GroupActiveError(this.name, this.#topic.name, this.memberCount);
    this.#generation += 1;
    for (const state of this.#partitions) {
      const offset = targets[state.partition]!;
      state.window.reset(offset);
      state.ackedInWindow.clear();
      state.readAhead = undefined;
      state.ackedAhead.clear();
      state.committed = offset;
    }
    // No member is live, so nothing is held: the cleared windows were all there was.
    for (const state of this.#partitions) this.#checkPartition(state);
    await this.#requestWrite(0);
  }

  /** Stops delivering, returns held messages to the group state, and stores the final position. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#delivery.close();
    this.#unstored.forget(this.#fetchAllLater);
    for (const state of this.#partitions) clearTimeout(state.retryTimer);
    clearImmediate(this.#nextTurn);
    await Promise.allSettled([...this.#pendingReads]);
    // Every ack stored its position already; this waits for the last write to finish.
    await this.#lastWrite;
  }

  /** Returns deliveries held past the visibility timeout to the group; returns the next expiry. */
  #expireHeld(nowMs: number): number {
    if (nowMs < this.#expiryMsNext) return this.#expiryMsNext;
    let nextDueMs = Number.POSITIVE_INFINITY;
    for (const entry of [...this.#delivery.held]) {
      if (entry.value.visibleAtMs <= nowMs) this.#delivery.release(entry);
      else nextDueMs = Math.min(nextDueMs, entry.value.visibleAtMs);
    }
    this.#expiryMsNext = nextDueMs;
    return nextDueMs;
  }

  /** The event loop turned (I/O ran): admission starts a new budget. */
  readonly #turn = (): void => {
    this.#nextTurn = undefined;
    this.#admittedInTurn = 0;
    this.#fetchAll();
  };

  #fetchAll(): void {
    for (const state of this.#partitions) this.#fetch(state);
  }

  /** Woken by the shared count once below the bound (from a write's settlement, another group's maybe). */
  readonly #fetchAllLater = (): void => {
    this.#fetchAll();
  };

  /** `#refill`, then a delivery scan if records were admitted. */
  #fetch(state: PartitionState): void {
    if (this.#refill(state)) this.#delivery.pump();
  }

  /**
   * Fills the window: first from the read-ahead buffer, then, once that is empty and the window
   * still has room, with a log read (asynchronous; it pumps when it lands). Returns whether records
   * were admitted now, so the caller scans unless a scan follows anyway.
   */
  #refill(state: PartitionState): boolean {
    if (this.#closed || this.memberCount === 0 || state.fetching) return false;
    if (this.#unstored.full) {
      this.#unstored.wakeWhenRoom(this.#fetchAllLater);
      return false;
    }
    if (this.#admittedInTurn >= ADMITTED_PER_TURN_MAX) {
      this.#nextTurn ??= setImmediate(this.#turn);
      return false;
    }
    const log = this.#topic.logs[state.partition]!;
    if (state.window.nextOffset < log.logStartOffset) this.#skipTo(state, log.logStartOffset);
    const admitted = this.#admit(state);
    if (state.readAhead !== undefined) return admitted; // the window is full
    if (state.window.nextOffset >= log.highWatermark) return admitted;
    if (!state.window.hasRoom()) return admitted;
    this.#read(state, log);
    return admitted;
  }

  /** Starts a log read for `state`'s window (it pumps when it lands). Not in `#refill` (called per
   * ack): its callbacks made every call allocate a context. */
  #read(state: PartitionState, log: PartitionLog): void {
    state.fetching = true;
    const generation = this.#generation;
    const from = state.window.nextOffset;
    const read = log.read(from, this.#limits.fetchBytesMax).then(
      (result) => {
        state.fetching = false;
        if (this.#closed || generation !== this.#generation) return;
        state.readAhead = new ReadEntries(result, state.partition, from);
        this.#admit(state);
        this.#delivery.pump();
        this.#fetch(state);
      },
      (error: unknown) => {
        state.fetching = false;
        if (this.#closed) return;
        this.#readFailed(state, error);
      },
    );
    this.#pendingReads.add(read);
    void read.finally(() => this.#pendingReads.delete(read));
  }

  /** Reports a failed read (or decode) and retries it after {@link READ_RETRY_DELAY_MS}. */
  #readFailed(state: PartitionState, error: unknown): void {
    this.#onError(error);
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(() => {
      state.retryTimer = undefined;
      this.#fetch(state);
    }, READ_RETRY_DELAY_MS);
  }

  /** Retention removed records the group had not read: they are gone, move past them. */
  #skipTo(state: PartitionState, offset: bigint): void {
    state.window.reset(offset);
    state.ackedInWindow.clear();
    state.readAhead = undefined;
    state.committed = offset;
    for (const acked of state.ackedAhead) if (acked < offset) state.ackedAhead.delete(acked);
  }

  /** Moves read-ahead records into the window while it has room; returns whether any moved. */
  #admit(state: PartitionState): boolean {
    let admitted = false;
    // Bounded by the records of one read: each pass takes one, or leaves it in the read and stops.
    while (state.readAhead !== undefined) {
      let entry: Entry | undefined;
      try {
        entry = state.readAhead.peek();
      } catch (error) {
        // A stored batch that passed its CRC but does not decode: drop the read, report, retry.
        state.readAhead = undefined;
        this.#readFailed(state, error);
        break;
      }
      if (entry === undefined) {
        // Drop the spent read (and the read buffer its batches are in).
        state.readAhead = undefined;
        break;
      }
      const inWindow = entry.offset >= state.window.nextOffset;
      if (inWindow && !state.window.hasRoom()) break; // Taken once acks free room.
      state.readAhead.take();
      if (!inWindow) continue;
      if (state.ackedAhead.delete(entry.offset)) {
        // Still acked ahead until the commit point passes it: the next stored position keeps it.
        state.ackedInWindow.add(entry.offset);
        state.window.skipTo(entry.offset + 1n);
      } else {
        state.window.enqueueEntry(entry);
        admitted = true;
        this.#admittedInTurn += 1;
      }
    }
    this.#advance(state);
    return admitted;
  }

  /** Moves the committed offset to the window's commit point; true if it moved. */
  #advance(state: PartitionState): boolean {
    const committed = state.window.commitPoint();
    if (committed === state.committed) return false;
    // Only a reset or retention (which set `committed` themselves) may move it back or jump it.
    // Tested before the call: the statement (bigints as text) would otherwise be built every ack.
    if (committed < state.committed) {
      broken(
        `the committed offset of ${this.#topic.name}/${state.partition} for group ${this.name} only grows (${state.committed} to ${committed})`,
      );
    }
    state.committed = committed;
    return true;
  }

  /**
   * Asks for the current position to be stored, counting `acks` acks as waiting for it; resolves
   * once a write that read the position after this call is durable. Every ack until the store
   * reads the position (when its round starts) shares one request, so a round costs the group one
   * request and one position, not one per ack; the store shares rounds across groups.
   */
  #requestWrite(acks: number): Promise<void> {
    const request = this.#openRequest ?? this.#openWriteRequest();
    request.acks += acks;
    this.#acksUnstored += acks;
    this.#unstored.add(acks);
    return request.write!;
  }

  /** A new write request, open until the store reads the position. Not in the caller: its closures
   * made every call, one per ack, allocate a context (docs/benchmarks.md, "bytes per delivery"). */
  #openWriteRequest(): WriteRequest {
    const created: WriteRequest = { acks: 0, write: undefined };
    this.#openRequest = created;
    const write = this.#storePosition(() => {
      // From here on the round has this position: later acks need the next request.
      if (this.#openRequest === created) this.#openRequest = undefined;
      return this.position();
    });
    created.write = write;
    const written = () => this.#written(created);
    this.#lastWrite = write.then(written, written);
    return created;
  }

  /**
   * A position is stored only inside the log: the committed offset is clamped to the log's range
   * at open and moves only over records read from it, so one past the high watermark is a bug
   * (stored, it would make the group skip messages published later). The member count is never
   * negative. A broken invariant throws `InvariantError` rather than store the position. Checked
   * for the partition an ack moved (only acks, a reset and retention move `committed`; the log's
   * high watermark never moves back), so an ack costs O(1), not O(partitions).
   */
  #checkPartition(state: PartitionState): void {
    // Tested before each call, so the statements are built only when they fail.
    if (this.memberCount < 0) broken(`group ${this.name} has a non-negative member count`);
    const highWatermark = this.#topic.logs[state.partition]!.highWatermark;
    if (state.committed > highWatermark) {
      broken(
        `the stored position of group ${this.name} on ${this.#topic.name}/${state.partition} is at most the high watermark (${state.committed} > ${highWatermark})`,
      );
    }
  }
}

/** One request to store the group's position, shared by the acks made until the store reads it. */
interface WriteRequest {
  /** Acks waiting for this write (counted in `acksUnstored` until it finishes). */
  acks: number;
  /** The store's write (set right after the request is made). */
  write: Promise<void> | undefined;
}
