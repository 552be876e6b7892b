/**
 * One consumer group reading one topic: its members (competing consumers), a bounded window of
 * records per partition, per-message ack/nack with redelivery, a visibility timeout, per-key
 * order, and the group's durable position.
 *
 * Per partition the window holds records from the committed offset up to the next offset to fetch,
 * in offset order. A record is delivered only when no earlier unacked record of the same key is in
 * the window, so a key's next message waits for the previous one's ack; records of other keys
 * flow in parallel up to each member's `maxInFlight`. Acks are individual; the committed offset
 * moves only over a contiguous acked prefix, and acked records above it are stored as "acked ahead"
 * so a restart does not redeliver them.
 *
 * Across partitions delivery is round-robin: each partition offers its deliverable records in offset
 * order, and the group takes one from each partition in turn, starting after the partition it last
 * delivered from. Only per-key order is promised, and it follows from offsets within a partition.
 */
import type { MessageHandler, ReceivedMessage } from '@herald/bus';
import { GroupActiveError } from './errors.ts';
import {
  type GroupPosition,
  type PartitionPosition,
  readGroupPosition,
  writeGroupPosition,
} from './group-offsets.ts';
import type { PartitionLog, StoredRecord } from './partition-log.ts';

/** Bounds and timings of a group. */
export interface ConsumerGroupLimits {
  /** Most records one partition's window holds (delivered, waiting or acked ahead). */
  readonly windowRecordsMax: number;
  /** Most record bytes one partition's window holds (at least one record is always admitted). */
  readonly windowBytesMax: number;
  /** Bytes asked of the log per read. */
  readonly fetchBytesMax: number;
  /** A delivered message not settled within this time goes back to the group. */
  readonly visibilityTimeoutMs: number;
  /** Whether position writes are fsynced. */
  readonly durable: boolean;
}

/** What a group needs from its topic. */
export interface GroupTopic {
  readonly name: string;
  readonly logs: readonly PartitionLog[];
}

/** Delay before a failed log read is retried. */
const READ_RETRY_DELAY_MS = 1_000;

interface Member {
  readonly handler: MessageHandler;
  readonly maxInFlight: number;
  inFlight: number;
  closed: boolean;
}

interface Entry {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  readonly sizeBytes: number;
  acked: boolean;
  attempt: number;
  notBeforeMs: number;
  holder: Member | null;
  /** Changes on every delivery, so a settlement from an earlier delivery is recognised as stale. */
  token: number;
  /** When a held entry returns to the group unless settled. */
  visibleAtMs: number;
}

interface PartitionState {
  readonly partition: number;
  /** Next offset not yet acked. */
  committed: bigint;
  /** Next offset to read from the log. */
  nextFetchOffset: bigint;
  readonly window: Entry[];
  windowBytes: number;
  /** Acked offsets at or above `nextFetchOffset` (from the stored position): skipped when read. */
  readonly ackedAhead: Set<bigint>;
  fetching: boolean;
  retryTimer: NodeJS.Timeout | undefined;
}

const decoder = new TextDecoder();
let deliveryTokens = 0;

/** The group state machine. Create with {@link ConsumerGroup.open}. */
export class ConsumerGroup {
  readonly name: string;
  readonly #topic: GroupTopic;
  readonly #file: string;
  readonly #limits: ConsumerGroupLimits;
  readonly #partitions: PartitionState[];
  readonly #members: Member[] = [];
  readonly #held = new Set<Entry>();
  readonly #pendingReads = new Set<Promise<unknown>>();
  readonly #onError: (error: unknown) => void;
  #nextMember = 0;
  /** The partition the next scan offers first (round-robin across partitions). */
  #nextPartition = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDueMs = Number.POSITIVE_INFINITY;
  #pumping = false;
  #pumpAgain = false;
  #closed = false;
  /** Bumped by a reset, so reads started before it are dropped. */
  #generation = 0;
  // Position writes: one at a time; requests arriving meanwhile share the next write.
  #writing: Promise<void> | undefined;
  #writeWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];

  private constructor(
    topic: GroupTopic,
    name: string,
    file: string,
    limits: ConsumerGroupLimits,
    stored: GroupPosition,
    onError: (error: unknown) => void,
  ) {
    this.name = name;
    this.#topic = topic;
    this.#file = file;
    this.#limits = limits;
    this.#onError = onError;
    this.#partitions = topic.logs.map((log, partition) => {
      const position = stored.get(partition);
      let committed = position?.committed ?? log.logStartOffset;
      // Retention may have removed what the group had not read; a truncated log may end earlier.
      if (committed < log.logStartOffset) committed = log.logStartOffset;
      if (committed > log.highWatermark) committed = log.highWatermark;
      const ackedAhead = new Set((position?.ackedAhead ?? []).filter((offset) => offset >= committed));
      return {
        partition,
        committed,
        nextFetchOffset: committed,
        window: [],
        windowBytes: 0,
        ackedAhead,
        fetching: false,
        retryTimer: undefined,
      };
    });
  }

  /** Loads the group's stored position (new groups start at the earliest retained offset). */
  static async open(
    topic: GroupTopic,
    name: string,
    file: string,
    limits: ConsumerGroupLimits,
    onError: (error: unknown) => void,
  ): Promise<ConsumerGroup> {
    const stored = await readGroupPosition(file);
    return new ConsumerGroup(topic, name, file, limits, stored, onError);
  }

  /** Live members. */
  get memberCount(): number {
    return this.#members.length;
  }

  /** Adds a member and starts delivering to it. */
  join(handler: MessageHandler, maxInFlight: number): { leave(): Promise<void> } {
    const member: Member = { handler, maxInFlight, inFlight: 0, closed: false };
    this.#members.push(member);
    this.#fetchAll();
    this.#pump();
    return { leave: async () => this.#leave(member) };
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
      const ackedAhead = [
        ...state.window.filter((entry) => entry.acked).map((entry) => entry.offset),
        ...state.ackedAhead,
      ].filter((offset) => offset >= state.committed);
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
    if (this.#members.length > 0)
      throw new GroupActiveError(this.name, this.#topic.name, this.#members.length);
    const targets = await Promise.all(this.#partitions.map((state) => offsetOf(state.partition)));
    if (this.#members.length > 0)
      throw new GroupActiveError(this.name, this.#topic.name, this.#members.length);
    this.#generation += 1;
    for (const state of this.#partitions) {
      const offset = targets[state.partition]!;
      state.window.length = 0;
      state.windowBytes = 0;
      state.ackedAhead.clear();
      state.committed = offset;
      state.nextFetchOffset = offset;
    }
    this.#held.clear();
    await this.#persist();
  }

  /** Stops delivering, returns held messages to the group state, and stores the final position. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const member of [...this.#members]) this.#leave(member);
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const state of this.#partitions) clearTimeout(state.retryTimer);
    await Promise.allSettled([...this.#pendingReads]);
    // Every ack stored its position already; this waits for the last write to finish.
    if (this.#writing !== undefined) await this.#writing;
  }

  #leave(member: Member): void {
    if (member.closed) return;
    member.closed = true;
    this.#members.splice(this.#members.indexOf(member), 1);
    for (const entry of [...this.#held]) {
      if (entry.holder === member) this.#release(entry, 0);
    }
    if (!this.#closed) this.#pump();
  }

  /** Returns a delivered entry to the waiting state, counting the delivery as an attempt. */
  #release(entry: Entry, delayMs: number): void {
    if (entry.holder !== null) entry.holder.inFlight -= 1;
    entry.holder = null;
    entry.token = 0;
    entry.attempt += 1;
    entry.notBeforeMs = Date.now() + delayMs;
    this.#held.delete(entry);
  }

  #fetchAll(): void {
    for (const state of this.#partitions) this.#fetch(state);
  }

  #fetch(state: PartitionState): void {
    if (this.#closed || this.#members.length === 0 || state.fetching) return;
    const log = this.#topic.logs[state.partition]!;
    if (state.nextFetchOffset < log.logStartOffset) this.#skipTo(state, log.logStartOffset);
    if (state.nextFetchOffset >= log.highWatermark) return;
    if (state.window.length >= this.#limits.windowRecordsMax) return;
    if (state.windowBytes >= this.#limits.windowBytesMax) return;
    state.fetching = true;
    const generation = this.#generation;
    const read = log.readRecords(state.nextFetchOffset, this.#limits.fetchBytesMax).then(
      (records) => {
        state.fetching = false;
        if (this.#closed || generation !== this.#generation) return;
        this.#admit(state, records);
        this.#pump();
        this.#fetch(state);
      },
      (error: unknown) => {
        state.fetching = false;
        if (this.#closed) return;
        this.#onError(error);
        clearTimeout(state.retryTimer);
        state.retryTimer = setTimeout(() => {
          state.retryTimer = undefined;
          this.#fetch(state);
        }, READ_RETRY_DELAY_MS);
      },
    );
    this.#pendingReads.add(read);
    void read.finally(() => this.#pendingReads.delete(read));
  }

  /** Retention removed records the group had not read: they are gone, move past them. */
  #skipTo(state: PartitionState, offset: bigint): void {
    state.window.length = 0;
    state.windowBytes = 0;
    state.nextFetchOffset = offset;
    state.committed = offset;
    for (const acked of state.ackedAhead) if (acked < offset) state.ackedAhead.delete(acked);
  }

  #admit(state: PartitionState, records: readonly StoredRecord[]): void {
    for (const record of records) {
      if (record.offset < state.nextFetchOffset) continue;
      if (state.window.length >= this.#limits.windowRecordsMax) break;
      if (state.window.length > 0 && state.windowBytes >= this.#limits.windowBytesMax) break;
      state.nextFetchOffset = record.offset + 1n;
      if (state.ackedAhead.delete(record.offset)) continue;
      const entry = toEntry(state.partition, record);
      state.window.push(entry);
      state.windowBytes += entry.sizeBytes;
    }
    this.#advance(state);
  }

  /** Drops the acked prefix of the window and moves the committed offset; true if it moved. */
  #advance(state: PartitionState): boolean {
    while (state.window[0]?.acked === true) {
      const entry = state.window.shift()!;
      state.windowBytes -= entry.sizeBytes;
    }
    const committed = state.window[0]?.offset ?? state.nextFetchOffset;
    if (committed === state.committed) return false;
    state.committed = committed;
    return true;
  }

  /**
   * Delivers every message that may go now. Runs the scan again instead of re-entering, so a
   * settlement during delivery cannot corrupt the window while it is walked.
   */
  #pump(): void {
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

  #scan(): void {
    const nowMs = Date.now();
    let nextDueMs = Number.POSITIVE_INFINITY;
    for (const entry of [...this.#held]) {
      if (entry.visibleAtMs <= nowMs) this.#release(entry, 0);
      else nextDueMs = Math.min(nextDueMs, entry.visibleAtMs);
    }
    let room = 0;
    for (const member of this.#members) room += member.maxInFlight - member.inFlight;
    const count = this.#partitions.length;
    const candidates: Entry[][] = [];
    for (let index = 0; index < count; index++) {
      const list: Entry[] = [];
      if (room > 0)
        nextDueMs = Math.min(nextDueMs, this.#collect(this.#partitions[index]!, room, nowMs, list));
      candidates.push(list);
    }
    // One from each partition in turn, starting after the partition delivered from last.
    const start = this.#nextPartition;
    delivering: for (let round = 0; round < room; round++) {
      let offered = false;
      for (let step = 0; step < count; step++) {
        const partition = (start + step) % count;
        const entry = candidates[partition]![round];
        if (entry === undefined) continue;
        offered = true;
        const member = this.#memberWithRoom();
        if (member === undefined) break delivering;
        this.#deliver(entry, member, nowMs);
        nextDueMs = Math.min(nextDueMs, entry.visibleAtMs);
        this.#nextPartition = (partition + 1) % count;
      }
      if (!offered) break;
    }
    this.#schedule(nextDueMs);
  }

  /** Adds up to `room` deliverable entries of one partition; returns the earliest later due time. */
  #collect(state: PartitionState, room: number, nowMs: number, candidates: Entry[]): number {
    const blockedKeys = new Set<string>();
    let nextDueMs = Number.POSITIVE_INFINITY;
    let found = 0;
    for (const entry of state.window) {
      if (entry.acked) continue;
      const key = entry.key;
      if (key !== undefined) {
        if (blockedKeys.has(key)) continue;
        blockedKeys.add(key); // Later messages of this key wait for this one.
      }
      if (entry.holder !== null) continue;
      if (entry.notBeforeMs > nowMs) {
        nextDueMs = Math.min(nextDueMs, entry.notBeforeMs);
        continue;
      }
      candidates.push(entry);
      found += 1;
      if (found >= room) break;
    }
    return nextDueMs;
  }

  #memberWithRoom(): Member | undefined {
    for (let tried = 0; tried < this.#members.length; tried++) {
      const member = this.#members[this.#nextMember % this.#members.length]!;
      this.#nextMember = (this.#nextMember + 1) % this.#members.length;
      if (member.inFlight < member.maxInFlight) return member;
    }
    return undefined;
  }

  #schedule(dueMs: number): void {
    if (dueMs === Number.POSITIVE_INFINITY || dueMs >= this.#timerDueMs) return;
    clearTimeout(this.#timer);
    this.#timerDueMs = dueMs;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerDueMs = Number.POSITIVE_INFINITY;
        this.#pump();
      },
      Math.max(0, dueMs - Date.now()),
    );
  }

  #deliver(entry: Entry, member: Member, nowMs: number): void {
    const token = ++deliveryTokens;
    entry.holder = member;
    entry.token = token;
    entry.visibleAtMs = nowMs + this.#limits.visibilityTimeoutMs;
    member.inFlight += 1;
    this.#held.add(entry);
    const state = this.#partitions[entry.partition]!;
    const isCurrent = () => !this.#closed && entry.token === token && entry.holder === member;
    const message: ReceivedMessage = {
      topic: this.#topic.name,
      partition: entry.partition,
      offset: String(entry.offset),
      key: entry.key,
      headers: entry.headers,
      body: entry.body,
      deliveryAttempt: entry.attempt,
      timestampMs: entry.timestampMs,
      ack: async () => {
        if (!isCurrent()) return;
        member.inFlight -= 1;
        entry.holder = null;
        entry.token = 0;
        entry.acked = true;
        this.#held.delete(entry);
        this.#advance(state);
        const stored = this.#persist();
        this.#pump();
        this.#fetch(state);
        await stored;
      },
      nack: async (options) => {
        if (!isCurrent()) return;
        this.#release(entry, Math.max(0, options?.delayMs ?? 0));
        this.#pump();
      },
    };
    // A handler that throws (synchronously or not) gets its message nacked: the subscriber's bug.
    void Promise.resolve()
      .then(() => member.handler(message))
      .catch(() => message.nack());
  }

  /** Stores the current position; concurrent callers share writes (group commit). */
  #persist(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#writeWaiters.push({ resolve, reject });
      this.#writing ??= this.#drainWrites();
    });
  }

  async #drainWrites(): Promise<void> {
    // Each round takes every waiter queued so far; a bounded queue since each round empties it.
    while (this.#writeWaiters.length > 0) {
      const waiters = this.#writeWaiters;
      this.#writeWaiters = [];
      try {
        await writeGroupPosition(
          this.#file,
          this.#topic.name,
          this.name,
          this.position(),
          this.#limits.durable,
        );
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#writing = undefined;
  }
}

function toEntry(partition: number, record: StoredRecord): Entry {
  const headers: Record<string, string> = {};
  let sizeBytes = record.value?.byteLength ?? 0;
  for (const [name, value] of record.headers) {
    headers[name] = value === null ? '' : decoder.decode(value);
    sizeBytes += name.length + (value?.byteLength ?? 0);
  }
  sizeBytes += record.key?.byteLength ?? 0;
  return {
    partition,
    offset: record.offset,
    key: record.key === null ? undefined : decoder.decode(record.key),
    headers,
    // A copy, so a delivered message does not keep the whole read buffer alive.
    body: record.value === null ? new Uint8Array(0) : record.value.slice(),
    timestampMs: record.timestampMs,
    sizeBytes,
    acked: false,
    attempt: 1,
    notBeforeMs: 0,
    holder: null,
    token: 0,
    visibleAtMs: 0,
  };
}
