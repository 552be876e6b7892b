/**
 * What a storage backend provides to the store: appends with the version check, reads of stored
 * (not yet decoded) events, and a wake-up when something was appended. `store-core.ts` builds the
 * public {@link EventStore} on it.
 */
import type { EncodedEvent, StoredEvent } from './codec.ts';
import type { AppendResult, ExpectedVersion } from './types.ts';

/** A storage backend of the event store. */
export interface StoreBackend {
  readonly name: string;
  /** Appends atomically after checking `expectedVersion`; rejects with `WrongExpectedVersionError`. */
  append(
    stream: string,
    events: readonly EncodedEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<AppendResult>;
  /** Up to `countMax` events of `stream` from `fromVersion` (inclusive) in `direction`. */
  readStream(
    stream: string,
    fromVersion: number,
    direction: 'forward' | 'backward',
    countMax: number,
  ): Promise<StoredEvent[]>;
  /** Up to `countMax` events from `fromPosition` (inclusive), and the position to read on from. */
  readAll(fromPosition: bigint, countMax: number): Promise<{ events: StoredEvent[]; nextPosition: bigint }>;
  streamVersion(stream: string): Promise<number>;
  headPosition(): Promise<bigint>;
  /**
   * Resolves when an event at or after `position` may be readable, or after `timeoutMs` at the
   * latest (a subscription then just reads again), or when `signal` aborts.
   */
  waitForAppend(position: bigint, timeoutMs: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
