/**
 * The contract a saga store implements (`herald`'s SQLite store, `@herald/postgres`'s store): the
 * state row of each saga instance with a version for optimistic concurrency, and its history of
 * transitions. Writes take the transaction of the handled message (`context.transaction`), which
 * also holds the inbox's dedup record and the outbox's staged rows, so a transition, its
 * messages and the fact that the message was handled commit together or not at all.
 */
import type { SagaStatus } from './saga.ts';

/** A saga instance as stored. */
export interface SagaRecord {
  /** The saga's name (its definition). */
  readonly saga: string;
  /** The instance's id: what its messages correlate to. */
  readonly id: string;
  readonly status: SagaStatus;
  /** 1 after the start, +1 per transition: the optimistic-concurrency check. */
  readonly version: number;
  /** The state, as validated by the saga's schema (stored as JSON). */
  readonly state: unknown;
  /** Id of the pending timeout message, if one is scheduled; any other timeout is stale. */
  readonly timeoutId: string | undefined;
  /** Names of the compensation steps that ran (each runs at most once). */
  readonly compensated: readonly string[];
  /** The outcome a finishing transition gave (`complete`), once finished. */
  readonly outcome: string | undefined;
  readonly startedAtMs: number;
  readonly updatedAtMs: number;
  /** When it finished (completed or compensated); finished sagas are pruned after a retention. */
  readonly finishedAtMs: number | undefined;
}

/** One transition in a saga's history. */
export interface SagaHistoryEntry {
  readonly saga: string;
  readonly id: string;
  /** The version the transition produced (1 for the start). */
  readonly version: number;
  /** CloudEvents type and id of the message that caused it (`herald.saga.timeout` for a timeout). */
  readonly messageType: string;
  readonly messageId: string;
  readonly status: SagaStatus;
  /** The state after the transition. */
  readonly state: unknown;
  /** CloudEvents types of the messages it sent (compensations included). */
  readonly sent: readonly string[];
  /** Compensation steps it ran. */
  readonly compensations: readonly string[];
  readonly atMs: number;
}

/** A saga store; implementations say which transaction type they take. */
export interface SagaStore {
  /** Short name for logs, e.g. `sqlite:herald_saga`. */
  readonly name: string;
  /** The instance `saga`/`id` as of `transaction` (read inside it), or undefined. */
  load(transaction: unknown, saga: string, id: string): Promise<SagaRecord | undefined>;
  /**
   * Writes `record` in `transaction`: inserts it when `expectedVersion` is 0, else updates the row
   * still at `expectedVersion`; appends `entry` to the history and trims that saga's history to
   * its newest `historyEntriesMax`. Rejects with `SagaConflictError` (retriable) when the row
   * exists already (insert) or moved on (update).
   */
  save(
    transaction: unknown,
    record: SagaRecord,
    expectedVersion: number,
    entry: SagaHistoryEntry,
    historyEntriesMax: number,
  ): Promise<void>;
  /** Deletes sagas (with their history) finished before `finishedBeforeMs`, at most `rowsMax`; resolves how many. */
  prune(transaction: unknown, finishedBeforeMs: number, rowsMax: number): Promise<number>;
  /** The committed instance, read outside any transaction (for consoles and tests). */
  find(saga: string, id: string): Promise<SagaRecord | undefined>;
  /** Its committed history, oldest first, at most `limit` newest entries. */
  history(saga: string, id: string, limit: number): Promise<SagaHistoryEntry[]>;
  /** Committed instances of `saga` in `status`, newest first, at most `limit`. */
  list(saga: string, status: SagaStatus, limit: number): Promise<SagaRecord[]>;
  /** Closes what the store opened itself (read connections); not the shared database. */
  close(): Promise<void>;
}
