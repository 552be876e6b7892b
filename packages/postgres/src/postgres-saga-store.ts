/**
 * `postgresSagaStore()`: saga states and histories on PostgreSQL, written in the transaction of
 * the handled message (`context.transaction`, a `pg` client), which also holds the inbox's dedup
 * row and the outbox's staged rows. Optimistic concurrency: an update names the version it read;
 * a concurrent transition of the same saga waits for the other's row lock, then matches no row and
 * fails with `SagaConflictError` (retriable), and the bus retries the message on the new state.
 */
import {
  ConfigurationError,
  SagaConflictError,
  type SagaHistoryEntry,
  type SagaRecord,
  type SagaStatus,
  type SagaStore,
} from '@herald/bus';
import type pg from 'pg';
import { translateError } from './errors.ts';
import { inboxTable } from './schema.ts';

/** SQLSTATE of a missing table. */
const UNDEFINED_TABLE = '42P01';

/** Default table of saga states; the history is `<table>_history`. */
export const DEFAULT_SAGA_TABLE = 'herald_saga';

/** Options of {@link postgresSagaStore}. */
export interface PostgresSagaStoreOptions {
  /** A pool on the database of the bus's inbox and outbox, for queries and the schema (never ended by the store). */
  readonly pool: pg.Pool;
  /** State table, `table` or `schema.table` (default `herald_saga`); the history is `<table>_history`. */
  readonly table?: string;
  /** Create the tables when missing (default true); with false, run {@link sagaSchemaSql} in your migrations. */
  readonly createSchema?: boolean;
}

/** The DDL of the saga tables (idempotent). */
export function sagaSchemaSql(table: string = DEFAULT_SAGA_TABLE): string {
  const state = inboxTable(table).quoted;
  const history = inboxTable(`${table}_history`).quoted;
  const base = table.split('.').pop()!;
  return [
    `create table if not exists ${state} (saga text not null, id text not null, status text not null,`,
    '  version int not null, state jsonb not null, timeout_id text, compensated jsonb not null, outcome text,',
    '  started_at_ms bigint not null, updated_at_ms bigint not null, finished_at_ms bigint,',
    '  primary key (saga, id));',
    `create index if not exists "${base}_status" on ${state} (saga, status, updated_at_ms);`,
    `create index if not exists "${base}_finished" on ${state} (finished_at_ms) where finished_at_ms is not null;`,
    `create table if not exists ${history} (saga text not null, id text not null, version int not null,`,
    '  message_type text not null, message_id text not null, status text not null, state jsonb not null,',
    '  sent jsonb not null, compensations jsonb not null, at_ms bigint not null, primary key (saga, id, version));',
  ].join('\n');
}

/** Creates the store; nothing connects until first use. */
export function postgresSagaStore(options: PostgresSagaStoreOptions): SagaStore {
  if (options?.pool === undefined) {
    throw new ConfigurationError(
      "postgresSagaStore: pass { pool } (a pg.Pool on the database of the bus's postgresInbox with an outbox)",
    );
  }
  return new PostgresSagaStore(options);
}

interface SagaRow {
  saga: string;
  id: string;
  status: string;
  version: number;
  state: unknown;
  timeout_id: string | null;
  compensated: string[];
  outcome: string | null;
  started_at_ms: string;
  updated_at_ms: string;
  finished_at_ms: string | null;
}

interface HistoryRow {
  saga: string;
  id: string;
  version: number;
  message_type: string;
  message_id: string;
  status: string;
  state: unknown;
  sent: string[];
  compensations: string[];
  at_ms: string;
}

class PostgresSagaStore implements SagaStore {
  readonly name: string;
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #state: string;
  readonly #history: string;
  readonly #createSchema: boolean;
  #schemaReady = false;

  constructor(options: PostgresSagaStoreOptions) {
    this.#pool = options.pool;
    this.#table = options.table ?? DEFAULT_SAGA_TABLE;
    this.#state = inboxTable(this.#table).quoted;
    this.#history = inboxTable(`${this.#table}_history`).quoted;
    this.#createSchema = options.createSchema ?? true;
    this.name = `postgres:${this.#table}`;
  }

  async load(transaction: unknown, saga: string, id: string): Promise<SagaRecord | undefined> {
    const client = await this.#client(transaction);
    const result = await client.query<SagaRow>(`select * from ${this.#state} where saga = $1 and id = $2`, [
      saga,
      id,
    ]);
    return result.rows[0] === undefined ? undefined : toRecord(result.rows[0]);
  }

  async save(
    transaction: unknown,
    record: SagaRecord,
    expectedVersion: number,
    entry: SagaHistoryEntry,
    historyEntriesMax: number,
  ): Promise<void> {
    const client = await this.#client(transaction);
    const values = [
      record.saga,
      record.id,
      record.status,
      record.version,
      JSON.stringify(record.state),
      record.timeoutId ?? null,
      JSON.stringify(record.compensated),
      record.outcome ?? null,
      record.updatedAtMs,
      record.finishedAtMs ?? null,
    ];
    const written =
      expectedVersion === 0
        ? await client.query(
            `insert into ${this.#state} (saga, id, status, version, state, timeout_id, compensated, outcome,
             updated_at_ms, finished_at_ms, started_at_ms) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             on conflict do nothing`,
            [...values, record.startedAtMs],
          )
        : await client.query(
            `update ${this.#state} set status = $3, version = $4, state = $5, timeout_id = $6, compensated = $7,
             outcome = $8, updated_at_ms = $9, finished_at_ms = $10 where saga = $1 and id = $2 and version = $11`,
            [...values, expectedVersion],
          );
    if (written.rowCount !== 1) throw new SagaConflictError(record.saga, record.id, expectedVersion);
    await client.query(
      `insert into ${this.#history} (saga, id, version, message_type, message_id, status, state, sent,
       compensations, at_ms) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
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
      ],
    );
    if (entry.version > historyEntriesMax) {
      await client.query(`delete from ${this.#history} where saga = $1 and id = $2 and version <= $3`, [
        entry.saga,
        entry.id,
        entry.version - historyEntriesMax,
      ]);
    }
  }

  async prune(transaction: unknown, finishedBeforeMs: number, rowsMax: number): Promise<number> {
    const client = await this.#client(transaction);
    const result = await client.query(
      `with doomed as (delete from ${this.#state} where (saga, id) in (select saga, id from ${this.#state}
         where finished_at_ms is not null and finished_at_ms < $1 limit $2) returning saga, id),
       gone as (delete from ${this.#history} h using doomed d where h.saga = d.saga and h.id = d.id returning 1)
       select (select count(*) from doomed) as pruned`,
      [finishedBeforeMs, rowsMax],
    );
    return Number(result.rows[0]?.pruned ?? 0);
  }

  async find(saga: string, id: string): Promise<SagaRecord | undefined> {
    const rows = await this.#read<SagaRow>(`select * from ${this.#state} where saga = $1 and id = $2`, [
      saga,
      id,
    ]);
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  }

  async history(saga: string, id: string, limit: number): Promise<SagaHistoryEntry[]> {
    const rows = await this.#read<HistoryRow>(
      `select * from ${this.#history} where saga = $1 and id = $2 order by version desc limit $3`,
      [saga, id, limit],
    );
    return rows.reverse().map(toEntry);
  }

  async list(saga: string, status: SagaStatus, limit: number): Promise<SagaRecord[]> {
    const rows = await this.#read<SagaRow>(
      `select * from ${this.#state} where saga = $1 and status = $2 order by updated_at_ms desc limit $3`,
      [saga, status, limit],
    );
    return rows.map(toRecord);
  }

  async close(): Promise<void> {
    // The pool is the caller's.
  }

  async #client(transaction: unknown): Promise<pg.ClientBase> {
    if (typeof (transaction as pg.ClientBase)?.query !== 'function') {
      throw new ConfigurationError(
        "postgres saga store: use it inside a transaction of the bus's postgresInbox (registerSaga does)",
      );
    }
    const client = transaction as pg.ClientBase;
    if (!this.#schemaReady) await this.#createTables(client);
    return client;
  }

  async #read<Row extends pg.QueryResultRow>(sql: string, parameters: unknown[]): Promise<Row[]> {
    try {
      return (await this.#pool.query<Row>(sql, parameters)).rows;
    } catch (error) {
      // No transition has committed the tables yet: nothing to show.
      if ((error as { code?: string }).code === UNDEFINED_TABLE) return [];
      throw translateError(error, `reading saga table "${this.#table}"`, 'postgres');
    }
  }

  /**
   * Creates the tables inside the caller's transaction when missing. Not on a connection of the
   * pool: handlers holding the pool's connections would wait for that one, and the pool may be
   * the inbox's. Ready once a transaction sees them committed (by an earlier transaction).
   */
  async #createTables(client: pg.ClientBase): Promise<void> {
    // Ready only once committed: tables this very transaction created (a first saga started in a
    // caller's transaction, say) vanish if it rolls back, and the next transaction must create them.
    const exists = await client.query(
      `select to_regclass($1) is not null as exists,
              coalesce((select xmin = pg_current_xact_id_if_assigned()::xid from pg_class
                        where oid = to_regclass($1)), false) as mine`,
      [this.#history],
    );
    if (exists.rows[0]?.exists) {
      if (!exists.rows[0].mine) this.#schemaReady = true;
      return;
    }
    if (!this.#createSchema) {
      throw new ConfigurationError(
        `saga table "${this.#table}" does not exist; create it in your migrations with ` +
          `sagaSchemaSql(${JSON.stringify(this.#table)}), or pass createSchema: true`,
      );
    }
    // Concurrent "create table if not exists" can still collide on the catalog; a lock serializes them.
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [this.#state]);
    await client.query(sagaSchemaSql(this.#table));
  }
}

function toRecord(row: SagaRow): SagaRecord {
  return {
    saga: row.saga,
    id: row.id,
    status: row.status as SagaStatus,
    version: row.version,
    state: row.state,
    timeoutId: row.timeout_id ?? undefined,
    compensated: row.compensated,
    outcome: row.outcome ?? undefined,
    startedAtMs: Number(row.started_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
    finishedAtMs: row.finished_at_ms === null ? undefined : Number(row.finished_at_ms),
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
    state: row.state,
    sent: row.sent,
    compensations: row.compensations,
    atMs: Number(row.at_ms),
  };
}
