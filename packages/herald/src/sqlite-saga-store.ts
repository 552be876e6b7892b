/**
 * `sqliteSagaStore`: saga states and histories in the SQLite file of `sqliteIdempotencyStore({
 * outbox: true })`, so a transition commits with the inbox's dedup record and the outbox's rows.
 * Writes run on the store's one connection inside `context.transaction` (the transaction is its
 * `DatabaseSync`); queries read committed rows on a read-only connection of their own (WAL).
 * SQLite serialises the transactions, so a version conflict only arises from a second process
 * writing the same file; the check is there all the same.
 */
import { DatabaseSync } from 'node:sqlite';
import {
  ConfigurationError,
  SagaConflictError,
  type SagaHistoryEntry,
  type SagaRecord,
  type SagaStatus,
  type SagaStore,
} from '@herald/bus';

/** Options of {@link sqliteSagaStore}. */
export interface SqliteSagaStoreOptions {
  /** The database file: the same `path` as the bus's `sqliteIdempotencyStore({ path, outbox: true })`. */
  readonly path: string;
}

/** The saga tables (idempotent DDL, run in the first transaction that touches them). */
export const SQLITE_SAGA_SCHEMA = `
  CREATE TABLE IF NOT EXISTS herald_saga (
    saga TEXT NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,
    state TEXT NOT NULL, timeout_id TEXT, compensated TEXT NOT NULL, outcome TEXT,
    started_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, finished_at_ms INTEGER,
    PRIMARY KEY (saga, id)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS herald_saga_status ON herald_saga (saga, status, updated_at_ms);
  CREATE INDEX IF NOT EXISTS herald_saga_finished ON herald_saga (finished_at_ms) WHERE finished_at_ms IS NOT NULL;
  CREATE TABLE IF NOT EXISTS herald_saga_history (
    saga TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, message_type TEXT NOT NULL,
    message_id TEXT NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL, sent TEXT NOT NULL,
    compensations TEXT NOT NULL, at_ms INTEGER NOT NULL,
    PRIMARY KEY (saga, id, version)) WITHOUT ROWID;`;

interface SagaRow {
  saga: string;
  id: string;
  status: string;
  version: number;
  state: string;
  timeout_id: string | null;
  compensated: string;
  outcome: string | null;
  started_at_ms: number;
  updated_at_ms: number;
  finished_at_ms: number | null;
}

interface HistoryRow {
  saga: string;
  id: string;
  version: number;
  message_type: string;
  message_id: string;
  status: string;
  state: string;
  sent: string;
  compensations: string;
  at_ms: number;
}

/** Creates the store; nothing is opened until first use. */
export function sqliteSagaStore(options: SqliteSagaStoreOptions): SagaStore {
  if (typeof options?.path !== 'string' || options.path.length === 0) {
    throw new ConfigurationError(
      "sqliteSagaStore: pass { path }, the file of the bus's sqliteIdempotencyStore({ path, outbox: true })",
    );
  }
  return new SqliteSagaStore(options.path);
}

class SqliteSagaStore implements SagaStore {
  readonly name = 'sqlite:herald_saga';
  readonly #path: string;
  #reader: DatabaseSync | undefined;
  #schemaReady = false;

  constructor(path: string) {
    this.#path = path;
  }

  async load(transaction: unknown, saga: string, id: string): Promise<SagaRecord | undefined> {
    const database = this.#writable(transaction);
    const select = () =>
      database.prepare('SELECT * FROM herald_saga WHERE saga = ? AND id = ?').get(saga, id);
    let row: unknown;
    try {
      row = select();
    } catch (error) {
      if (!(error instanceof Error && /no such table/.test(error.message))) throw error;
      // The transaction that created the tables rolled back (a saga started in a caller's
      // transaction that failed, say): create them again in this one, which loads first.
      database.exec(SQLITE_SAGA_SCHEMA);
      row = select();
    }
    return row === undefined ? undefined : toRecord(row as SagaRow);
  }

  async save(
    transaction: unknown,
    record: SagaRecord,
    expectedVersion: number,
    entry: SagaHistoryEntry,
    historyEntriesMax: number,
  ): Promise<void> {
    const database = this.#writable(transaction);
    const values = [
      record.status,
      record.version,
      JSON.stringify(record.state),
      record.timeoutId ?? null,
      JSON.stringify(record.compensated),
      record.outcome ?? null,
      record.updatedAtMs,
      record.finishedAtMs ?? null,
    ];
    const changes =
      expectedVersion === 0
        ? database
            .prepare(
              `INSERT OR IGNORE INTO herald_saga (status, version, state, timeout_id, compensated, outcome,
               updated_at_ms, finished_at_ms, saga, id, started_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(...values, record.saga, record.id, record.startedAtMs).changes
        : database
            .prepare(
              `UPDATE herald_saga SET status = ?, version = ?, state = ?, timeout_id = ?, compensated = ?,
               outcome = ?, updated_at_ms = ?, finished_at_ms = ? WHERE saga = ? AND id = ? AND version = ?`,
            )
            .run(...values, record.saga, record.id, expectedVersion).changes;
    if (Number(changes) !== 1) throw new SagaConflictError(record.saga, record.id, expectedVersion);
    database
      .prepare(
        `INSERT INTO herald_saga_history (saga, id, version, message_type, message_id, status, state, sent,
         compensations, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        entry.saga,
        entry.id,
        entry.version,
        entry.messageType,
        entry.messageId,
        entry.status,
        JSON.stringify(entry.state),
        JSON.stringify(entry.sent),
        JSON.stringify(entry.compensations),
        entry.atMs,
      );
    if (entry.version > historyEntriesMax) {
      database
        .prepare('DELETE FROM herald_saga_history WHERE saga = ? AND id = ? AND version <= ?')
        .run(entry.saga, entry.id, entry.version - historyEntriesMax);
    }
  }

  async prune(transaction: unknown, finishedBeforeMs: number, rowsMax: number): Promise<number> {
    const database = this.#writable(transaction);
    const doomed = database
      .prepare(
        'SELECT saga, id FROM herald_saga WHERE finished_at_ms IS NOT NULL AND finished_at_ms < ? LIMIT ?',
      )
      .all(finishedBeforeMs, rowsMax) as { saga: string; id: string }[];
    const history = database.prepare('DELETE FROM herald_saga_history WHERE saga = ? AND id = ?');
    const state = database.prepare('DELETE FROM herald_saga WHERE saga = ? AND id = ?');
    for (const { saga, id } of doomed) {
      history.run(saga, id);
      state.run(saga, id);
    }
    return doomed.length;
  }

  async find(saga: string, id: string): Promise<SagaRecord | undefined> {
    const row = this.#read('SELECT * FROM herald_saga WHERE saga = ? AND id = ?', saga, id)[0];
    return row === undefined ? undefined : toRecord(row as SagaRow);
  }

  async history(saga: string, id: string, limit: number): Promise<SagaHistoryEntry[]> {
    const rows = this.#read(
      'SELECT * FROM herald_saga_history WHERE saga = ? AND id = ? ORDER BY version DESC LIMIT ?',
      saga,
      id,
      limit,
    ) as HistoryRow[];
    return rows.reverse().map(toEntry);
  }

  async list(saga: string, status: SagaStatus, limit: number): Promise<SagaRecord[]> {
    const rows = this.#read(
      'SELECT * FROM herald_saga WHERE saga = ? AND status = ? ORDER BY updated_at_ms DESC LIMIT ?',
      saga,
      status,
      limit,
    ) as SagaRow[];
    return rows.map(toRecord);
  }

  async close(): Promise<void> {
    this.#reader?.close();
    this.#reader = undefined;
  }

  /** The connection of an open transaction of the idempotency store, with the tables created. */
  #writable(transaction: unknown): DatabaseSync {
    if (!(transaction instanceof DatabaseSync) || !transaction.isTransaction) {
      throw new ConfigurationError(
        "sqlite saga store: use it inside a transaction of the bus's sqliteIdempotencyStore (registerSaga does)",
      );
    }
    if (!this.#schemaReady) {
      transaction.exec(SQLITE_SAGA_SCHEMA);
      this.#schemaReady = true;
    }
    return transaction;
  }

  /** Committed rows; none while no transaction has created the tables yet. */
  #read(sql: string, ...parameters: (string | number)[]): unknown[] {
    try {
      this.#reader ??= new DatabaseSync(this.#path, { readOnly: true });
      return this.#reader.prepare(sql).all(...parameters);
    } catch (error) {
      if (error instanceof Error && /no such table|unable to open/.test(error.message)) return [];
      throw error;
    }
  }
}

function toRecord(row: SagaRow): SagaRecord {
  return {
    saga: row.saga,
    id: row.id,
    status: row.status as SagaStatus,
    version: row.version,
    state: JSON.parse(row.state) as unknown,
    timeoutId: row.timeout_id ?? undefined,
    compensated: JSON.parse(row.compensated) as string[],
    outcome: row.outcome ?? undefined,
    startedAtMs: row.started_at_ms,
    updatedAtMs: row.updated_at_ms,
    finishedAtMs: row.finished_at_ms ?? undefined,
  };
}

function toEntry(row: HistoryRow): SagaHistoryEntry {
  return {
    saga: row.saga,
    id: row.id,
    version: row.version,
    messageType: row.message_type,
    messageId: row.message_id,
    status: row.status as SagaStatus,
    state: JSON.parse(row.state) as unknown,
    sent: JSON.parse(row.sent) as string[],
    compensations: JSON.parse(row.compensations) as string[],
    atMs: row.at_ms,
  };
}
