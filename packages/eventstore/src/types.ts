/**
 * The event store's public shapes: what an append takes and resolves, what a read returns, and the
 * {@link EventStore} contract every backend (embedded log, PostgreSQL) fulfils the same way.
 */
import type { EventContract, InputOf } from '@herald/bus';

/**
 * The version a stream must be at for an append to go through (optimistic concurrency). A
 * stream's version is its event count: `0` means "the stream must not exist yet", `n` means "the
 * last event I saw is version `n`", `'any'` skips the check.
 */
export type ExpectedVersion = number | 'any';

/** One event to append: a contract of the bus, its payload, and optional id and metadata. */
export interface EventToAppend<C extends EventContract = EventContract> {
  /** The contract: its `type`, schema (validated on append) and current version are stored. */
  readonly contract: C;
  /** The payload, validated against the contract's schema before anything is written. */
  readonly data: InputOf<C>;
  /** Event id (default a fresh UUIDv7). */
  readonly id?: string;
  /** String metadata stored with the event (correlation ids, the user who acted). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** An event as stored and read back: upcast to its contract's current version when the store knows the contract. */
export interface RecordedEvent<T = unknown> {
  /** Event id. */
  readonly id: string;
  /** The stream it belongs to, e.g. `order-123`. */
  readonly stream: string;
  /** Its version in the stream: 1 for the first event, dense (no gaps). */
  readonly version: number;
  /** Its position in the whole store (`readAll` order): increasing, not necessarily dense. */
  readonly position: bigint;
  /** The contract type, e.g. `OrderPlaced`. */
  readonly type: string;
  /** The payload, upcast to the contract's current version. */
  readonly data: T;
  /** The metadata given on append. */
  readonly metadata: Readonly<Record<string, string>>;
  /** When the store recorded it, ms since the epoch. */
  readonly recordedAtMs: number;
}

/** What a successful append resolves. */
export interface AppendResult {
  /** The stream's version after the append: the version of its last event. */
  readonly version: number;
  /** The global position of the last event appended. */
  readonly position: bigint;
}

/** Options of {@link EventStore.appendToStream}. */
export interface AppendOptions {
  /** The version the stream must be at (default `'any'`); see {@link ExpectedVersion}. */
  readonly expectedVersion?: ExpectedVersion;
}

/** Options of {@link EventStore.readStream}. */
export interface ReadStreamOptions {
  /** `'forward'` (oldest first, default) or `'backward'` (newest first). */
  readonly direction?: 'forward' | 'backward';
  /**
   * First version to return (inclusive): default 1 forward, the last version backward. Backward
   * reads return this version and older ones.
   */
  readonly fromVersion?: number;
  /** Most events returned (default and at most {@link READ_COUNT_MAX}). */
  readonly countMax?: number;
}

/** Options of {@link EventStore.readAll}. */
export interface ReadAllOptions {
  /** First global position to return (inclusive, default 0). */
  readonly fromPosition?: bigint;
  /** Most events returned (default and at most {@link READ_COUNT_MAX}). */
  readonly countMax?: number;
}

/** A page of {@link EventStore.readAll}. */
export interface ReadAllResult {
  /** Events in position order. */
  readonly events: readonly RecordedEvent[];
  /** Where the next page starts: pass it as `fromPosition`. */
  readonly nextPosition: bigint;
}

/** Most events one read returns; read on from the last one to see more. */
export const READ_COUNT_MAX = 4096;

/** Most events one append takes (they are written atomically, as one unit). */
export const APPEND_COUNT_MAX = 1000;

/** Where a subscription keeps its position, so a restarted subscription resumes after what it handled. */
export interface CheckpointStore {
  /** The saved position (the next one to handle) of subscription `name`, or undefined. */
  load(name: string): Promise<bigint | undefined>;
  /** Saves `position` (the next one to handle) for subscription `name`. */
  save(name: string, position: bigint): Promise<void>;
}

/** Options of {@link EventStore.subscribe}. */
export interface SubscribeOptions {
  /** Name of the subscription: the key of its checkpoint. */
  readonly name: string;
  /**
   * Only streams of this category: `order` (or `order-*`) matches `order-123`. Default: every
   * stream (`$all`).
   */
  readonly category?: string;
  /** Where to start when no checkpoint is saved (default 0, the beginning). */
  readonly fromPosition?: bigint;
  /** Where the position is saved after each handled page (default: not saved, start from `fromPosition`). */
  readonly checkpoints?: CheckpointStore;
  /** Events read per page (default 256, at most {@link READ_COUNT_MAX}). */
  readonly pageCountMax?: number;
}

/** A running subscription: catch-up from its position, then live. */
export interface Subscription {
  /** The next position it will handle. */
  readonly position: bigint;
  /** Resolves when it has handled everything written before it was called (catch-up done). */
  caughtUp(): Promise<void>;
  /**
   * Settles when the subscription ends: resolves after {@link Subscription.close}, rejects with
   * the handler's error (the subscription stops; its checkpoint stays before the failed event).
   */
  readonly done: Promise<void>;
  /** Stops after the event in hand; resolves once stopped. Idempotent. */
  close(): Promise<void>;
}

/**
 * An event store: streams per aggregate with optimistic concurrency, reads of one stream or of
 * everything in global order, and subscriptions. Both backends behave the same; see README.md for
 * what each one guarantees on a crash.
 */
export interface EventStore {
  /** `'embedded'` or `'postgres'`. */
  readonly backend: string;
  /**
   * Appends `events` (1 to {@link APPEND_COUNT_MAX}) to `stream` atomically, all or none, after
   * validating each payload. Resolves once durable. Rejects with a retriable
   * `WrongExpectedVersionError` when the stream is not at `expectedVersion` (nothing written),
   * `ValidationError` for a bad payload, `ConfigurationError` for a bad stream name, `ClosedError`
   * after `close()`, `TransportError` when storage fails.
   */
  appendToStream(
    stream: string,
    events: readonly EventToAppend[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** Events of `stream` in version order (or reversed); empty for a stream that does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]>;
  /** Events of every stream in global position order, from `fromPosition`. */
  readAll(options?: ReadAllOptions): Promise<ReadAllResult>;
  /** The stream's version (its event count); 0 when it does not exist. */
  streamVersion(stream: string): Promise<number>;
  /** The position the next appended event will get at the earliest (every stored position is below it). */
  headPosition(): Promise<bigint>;
  /**
   * Calls `handler` for each event (of `category`, or all) from the checkpoint, then for new ones as
   * they are appended, one at a time in position order. At least once: after a crash, events since
   * the last saved checkpoint are handled again.
   */
  subscribe(options: SubscribeOptions, handler: (event: RecordedEvent) => Promise<void> | void): Subscription;
  /** Stops subscriptions and releases the storage (the lock, or the pool the store created). Idempotent. */
  close(): Promise<void>;
}
