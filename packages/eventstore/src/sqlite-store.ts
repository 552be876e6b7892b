/**
 * The event store on a SQLite file (`node:sqlite`), for a service that keeps its state in SQLite
 * beside Herald's outbox and inbox (`sqliteIdempotencyStore({ path, outbox: true })`): with
 * {@link SqliteEventStore.within}, an aggregate's events are appended in the transaction that also
 * stages its outgoing messages and saves its saga, so the events and what they cause commit
 * together or not at all. One table: `position` an autoincrement key (the global order), `(stream,
 * version)` unique. SQLite runs one write transaction at a time, so positions are assigned in
 * commit order and a reader never finds a smaller position committed behind one it has read.
 */
import { DatabaseSync } from 'node:sqlite';
import { ConfigurationError, type EventContract, HeraldError, TransportError } from '@herald/bus';
import type { StoreBackend } from './backend.ts';
import type { EncodedEvent, StoredEvent } from './codec.ts';
import { WrongExpectedVersionError } from './errors.ts';
import { StoreCore } from './store-core.ts';
import type { AppendResult, EventStore, ExpectedVersion } from './types.ts';

/** Options of {@link openSqliteEventStore}. */
export interface SqliteEventStoreOptions {
  /** The database file, e.g. the file of the service's `sqliteIdempotencyStore`. */
  readonly path: string;
  /** The events table (default `herald_events`): letters, digits and underscores. */
  readonly table?: string;
  /** Contracts whose events reads upcast (contracts appended through this store are known anyway). */
  readonly contracts?: readonly EventContract[];
  /** How often an idle subscription looks for new events (default 20 ms, from 1 ms to 10 s). */
  readonly pollIntervalMs?: number;
  /** How long an append of the store's own waits for another writer's lock (default 5 s, at most 60 s). */
  readonly busyTimeoutMs?: number;
}

/** Reads and appends of one open transaction: the part of an {@link EventStore} that deciders use. */
export type StreamsInTransaction = Pick<EventStore, 'appendToStream' | 'readStream' | 'streamVersion'>;

/** An event store on SQLite whose appends can join a transaction you hold. */
export interface SqliteEventStore extends EventStore {
  /**
   * Reads and appends inside `transaction`, a `DatabaseSync` on this file with a transaction open
   * (the `tx` of `bus.transaction` or `context.transaction` on a `sqliteIdempotencyStore`): appends
   * commit or roll back with it, reads see its own writes. Subscriptions of this store see the
   * events once it commits. The version check cannot race there: SQLite serialises write
   * transactions. `handleCommand(store.within(tx), stream, decider, command)` runs a decider in it.
   */
  within(transaction: DatabaseSync): StreamsInTransaction;
}

/** The idempotent DDL of the events table `table` (default `herald_events`). */
export function sqliteEventStoreSchemaSql(table = 'herald_events'): string {
  assertTable(table);
  return `CREATE TABLE IF NOT EXISTS ${table} (
    position INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, version INTEGER NOT NULL,
    id TEXT NOT NULL, type TEXT NOT NULL, schema_version INTEGER NOT NULL, data TEXT NOT NULL,
    metadata TEXT NOT NULL, recorded_at_ms INTEGER NOT NULL, UNIQUE (stream, version));`;
}

function assertTable(table: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
    throw new ConfigurationError(
      `sqlite event store: table must be letters, digits and underscores (at most 63), got ${JSON.stringify(table)}`,
    );
  }
}

function bounded(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < min || result > max) {
    throw new ConfigurationError(
      `openSqliteEventStore: ${name} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return result;
}

interface EventRow {
  position: number;
  stream: string;
  version: number;
  id: string;
  type: string;
  schema_version: number;
  data: string;
  metadata: string;
  recorded_at_ms: number;
}

function toStored(row: EventRow): StoredEvent {
  return {
    id: row.id,
    stream: row.stream,
    version: row.version,
    position: BigInt(row.position),
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    recordedAtMs: row.recorded_at_ms,
  };
}

function wrap(error: unknown, action: string): unknown {
  if (error instanceof HeraldError) return error;
  return new TransportError(`event store on SQLite: ${action} failed (${String(error)}); retry`, {
    retriable: true,
    cause: error,
  });
}

/**
 * The backend over one connection: the store's own (reads on a read-only connection, appends in
 * a transaction of their own), or an open transaction's (`within`: everything on it, no commit).
 */
class SqliteBackend implements StoreBackend {
  readonly name = 'sqlite';
  readonly #read: () => DatabaseSync;
  /** Runs an append: in a transaction of the store's own, or right on the caller's. */
  readonly #write: <T>(work: (database: DatabaseSync) => T) => T;
  readonly #table: string;
  readonly #pollIntervalMs: number;
  readonly #close: () => void;

  constructor(
    read: () => DatabaseSync,
    write: <T>(work: (database: DatabaseSync) => T) => T,
    table: string,
    pollIntervalMs: number,
    close: () => void,
  ) {
    this.#read = read;
    this.#write = write;
    this.#table = table;
    this.#pollIntervalMs = pollIntervalMs;
    this.#close = close;
  }

  async append(
    stream: string,
    events: readonly EncodedEvent[],
    expected: ExpectedVersion,
  ): Promise<AppendResult> {
    try {
      return this.#write((database) => {
        const current = database
          .prepare(`SELECT coalesce(max(version), 0) AS version FROM ${this.#table} WHERE stream = ?`)
          .get(stream) as { version: number };
        if (expected !== 'any' && expected !== current.version) {
          throw new WrongExpectedVersionError(stream, expected, current.version);
        }
        const insert = database.prepare(
          `INSERT INTO ${this.#table} (stream, version, id, type, schema_version, data, metadata, recorded_at_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        const nowMs = Date.now();
        let position = 0n;
        events.forEach((event, index) => {
          const { lastInsertRowid } = insert.run(
            stream,
            current.version + index + 1,
            event.id,
            event.type,
            event.schemaVersion,
            event.data,
            event.metadata,
            nowMs,
          );
          position = BigInt(lastInsertRowid);
        });
        return { version: current.version + events.length, position };
      });
    } catch (error) {
      // Another process appended between the check and the insert (the unique key catches it).
      if (error instanceof Error && /UNIQUE constraint failed/.test(error.message)) {
        throw new WrongExpectedVersionError(stream, expected, await this.streamVersion(stream));
      }
      throw wrap(error, `appending to "${stream}"`);
    }
  }

  #all(sql: string, parameters: (string | number)[], action: string): EventRow[] {
    try {
      return this.#read()
        .prepare(sql)
        .all(...parameters) as unknown as EventRow[];
    } catch (error) {
      throw wrap(error, action);
    }
  }

  async readStream(
    stream: string,
    fromVersion: number,
    direction: 'forward' | 'backward',
    countMax: number,
  ): Promise<StoredEvent[]> {
    const condition =
      direction === 'forward' ? 'version >= ? ORDER BY version' : 'version <= ? ORDER BY version DESC';
    return this.#all(
      `SELECT * FROM ${this.#table} WHERE stream = ? AND ${condition} LIMIT ?`,
      [stream, Math.min(fromVersion, Number.MAX_SAFE_INTEGER), countMax],
      `reading stream "${stream}"`,
    ).map(toStored);
  }

  async readAll(
    fromPosition: bigint,
    countMax: number,
  ): Promise<{ events: StoredEvent[]; nextPosition: bigint }> {
    const events = this.#all(
      `SELECT * FROM ${this.#table} WHERE position >= ? ORDER BY position LIMIT ?`,
      [Number(fromPosition), countMax],
      'reading all streams',
    ).map(toStored);
    const last = events.at(-1);
    return { events, nextPosition: last === undefined ? fromPosition : last.position + 1n };
  }

  async streamVersion(stream: string): Promise<number> {
    const rows = this.#all(
      `SELECT coalesce(max(version), 0) AS version FROM ${this.#table} WHERE stream = ?`,
      [stream],
      `reading the version of "${stream}"`,
    ) as unknown as { version: number }[];
    return rows[0]?.version ?? 0;
  }

  async headPosition(): Promise<bigint> {
    const rows = this.#all(
      `SELECT max(position) AS position FROM ${this.#table}`,
      [],
      'reading the head position',
    );
    const position = rows[0]?.position;
    return position === null || position === undefined ? 0n : BigInt(position) + 1n;
  }

  waitForAppend(_position: bigint, timeoutMs: number, signal: AbortSignal): Promise<void> {
    // Polling, as on PostgreSQL: the append's commit belongs to whoever holds the transaction, so
    // nothing here learns of it; the interval bounds the added latency.
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.min(timeoutMs, this.#pollIntervalMs));
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  async close(): Promise<void> {
    this.#close();
  }
}

/**
 * Opens the event store on the SQLite file `path`, creating it and the events table if missing
 * (WAL mode). Reads use a read-only connection of the store's (committed events only); its own
 * appends a write connection that waits up to `busyTimeoutMs` for another writer. Throws
 * `ConfigurationError` for bad options.
 *
 * @example
 * const events = await openSqliteEventStore({ path: './state/order.sqlite' });
 * await bus.transaction(async (tx) => handleCommand(events.within(tx), 'order-1', order, place));
 */
export async function openSqliteEventStore(options: SqliteEventStoreOptions): Promise<SqliteEventStore> {
  if (typeof options?.path !== 'string' || options.path.length === 0) {
    throw new ConfigurationError('openSqliteEventStore: pass { path }, the SQLite file of the events');
  }
  const table = options.table ?? 'herald_events';
  assertTable(table);
  const pollIntervalMs = bounded(options.pollIntervalMs, 20, 1, 10_000, 'pollIntervalMs');
  const busyTimeoutMs = bounded(options.busyTimeoutMs, 5000, 0, 60_000, 'busyTimeoutMs');
  let reader: DatabaseSync;
  // The writer opens on the first append of the store's own: a store whose appends all go through
  // `within(tx)` (another owner's connection) never holds a second writing connection.
  let writer: DatabaseSync | undefined;
  const writable = () => (writer ??= new DatabaseSync(options.path, { timeout: busyTimeoutMs }));
  try {
    const setup = writable();
    const exists = setup.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    if (exists === undefined) {
      setup.exec('PRAGMA journal_mode = WAL');
      setup.exec(sqliteEventStoreSchemaSql(table));
    }
    setup.close();
    writer = undefined;
    reader = new DatabaseSync(options.path, { readOnly: true });
  } catch (error) {
    writer?.close();
    throw wrap(error, `opening ${options.path}`);
  }
  const contracts = options.contracts ?? [];
  const own = <T>(work: (database: DatabaseSync) => T): T => {
    const database = writable();
    database.exec('BEGIN IMMEDIATE');
    try {
      const result = work(database);
      database.exec('COMMIT');
      return result;
    } catch (error) {
      if (database.isTransaction) database.exec('ROLLBACK');
      throw error;
    }
  };
  const store = new StoreCore(
    new SqliteBackend(
      () => reader,
      own,
      table,
      pollIntervalMs,
      () => {
        reader.close();
        writer?.close();
      },
    ),
    contracts,
  );
  return Object.assign(store, {
    within: (transaction: DatabaseSync) => sqliteStreams(transaction, { table, contracts }),
  });
}

/**
 * The reads and appends of a SQLite event store inside `transaction` without an opened store
 * (what {@link SqliteEventStore.within} returns): for code that runs in transactions only, such as
 * a saga transition. `options.table` (default `herald_events`) must exist
 * ({@link sqliteEventStoreSchemaSql}). Throws `ConfigurationError` when no transaction is open.
 */
export function sqliteStreams(
  transaction: DatabaseSync,
  options: Pick<SqliteEventStoreOptions, 'table' | 'contracts'> = {},
): StreamsInTransaction {
  if (!(transaction instanceof DatabaseSync) || !transaction.isTransaction) {
    throw new ConfigurationError(
      'sqlite event store: within(tx) needs a DatabaseSync with a transaction open (the tx of bus.transaction or context.transaction)',
    );
  }
  const table = options.table ?? 'herald_events';
  assertTable(table);
  const onIt = <T>(work: (database: DatabaseSync) => T): T => work(transaction);
  // Never waits for appends (no subscriptions here): the poll interval is unused.
  return new StoreCore(
    new SqliteBackend(
      () => transaction,
      onIt,
      table,
      1,
      () => {},
    ),
    options.contracts ?? [],
  );
}
