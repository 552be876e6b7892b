/**
 * The outbox of `sqliteIdempotencyStore({ outbox: true })`: the table `herald_outbox` in the
 * store's SQLite file, so `context.transaction` commits a handler's writes, its dedup record and
 * the messages it staged together.
 *
 * One relay per database: SQLite has one writer, and the store serialises its transactions on
 * one connection, so one process owns the file. Passes of this store run one at a time (two buses
 * relaying the same store take turns), which keeps each key's rows in staging order — and, since
 * transactions are serialised, in commit order. The relay reads committed rows on a second,
 * read-only connection (WAL), so it never sees a transaction still open across an `await`.
 */
import { DatabaseSync } from 'node:sqlite';
import {
  ConfigurationError,
  type OutboxLag,
  type OutboxPass,
  type OutboxRecord,
  type OutboxStore,
  type StagedRecord,
} from '@herald/bus';

/** The outbox table of the SQLite store (idempotent DDL, run on every open). */
export const SQLITE_OUTBOX_SCHEMA = `
  CREATE TABLE IF NOT EXISTS herald_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    key TEXT,
    subject TEXT,
    data TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT,
    traceparent TEXT,
    tracestate TEXT,
    extensions TEXT,
    deliver_at_ms INTEGER,
    staged_at_ms INTEGER NOT NULL,
    sent_at_ms INTEGER);
  CREATE INDEX IF NOT EXISTS herald_outbox_unsent ON herald_outbox (seq) WHERE sent_at_ms IS NULL;
  CREATE INDEX IF NOT EXISTS herald_outbox_sent ON herald_outbox (sent_at_ms) WHERE sent_at_ms IS NOT NULL;`;

/**
 * Adds the columns later versions added to an outbox table created before them (SQLite has no
 * `ADD COLUMN IF NOT EXISTS`); run after {@link SQLITE_OUTBOX_SCHEMA}.
 */
export function upgradeSqliteOutbox(database: DatabaseSync): void {
  const columns = database.prepare('PRAGMA table_info(herald_outbox)').all() as { name: string }[];
  if (!columns.some((column) => column.name === 'deliver_at_ms')) {
    database.exec('ALTER TABLE herald_outbox ADD COLUMN deliver_at_ms INTEGER');
  }
}

/** Rows deleted per prune statement, and statements per prune at most: a prune never holds the database long. */
const PRUNE_BATCH_ROWS = 10_000;
const PRUNE_BATCHES_MAX = 100;

/** What the outbox needs of its idempotency store. */
export interface SqliteOutboxHost {
  readonly path: string;
  /** The store's one connection, opened (with {@link SQLITE_OUTBOX_SCHEMA} applied) on first use. */
  connection(): DatabaseSync;
  /** Runs `work` in `BEGIN IMMEDIATE … COMMIT` on that connection, queued behind the store's other transactions. */
  transaction<T>(work: (database: DatabaseSync) => Promise<T>): Promise<T>;
}

interface OutboxRow {
  seq: number;
  id: string;
  source: string;
  type: string;
  key: string | null;
  subject: string | null;
  data: string;
  correlation_id: string;
  causation_id: string | null;
  traceparent: string | null;
  tracestate: string | null;
  extensions: string | null;
  deliver_at_ms: number | null;
}

/** The SQLite outbox over `host`, with `committed()` for the store to call after each commit. */
export class SqliteOutbox implements OutboxStore {
  readonly name = 'sqlite:herald_outbox';
  readonly #host: SqliteOutboxHost;
  readonly #listeners = new Set<() => void>();
  #reader: DatabaseSync | undefined;
  /** Whether the store's open transaction staged rows (then its commit wakes the relay). */
  #stagedInTransaction = false;
  /** Relay passes run one after another: two at once could publish a key's rows out of order. */
  #passTail: Promise<unknown> = Promise.resolve();

  constructor(host: SqliteOutboxHost) {
    this.#host = host;
  }

  async stage(transaction: unknown, records: readonly OutboxRecord[]): Promise<void> {
    if (!(transaction instanceof DatabaseSync) || !transaction.isTransaction) {
      throw new ConfigurationError(
        'sqlite outbox: stage messages inside a transaction of the store (context.transaction or bus.transaction)',
      );
    }
    const insert = transaction.prepare(
      `INSERT INTO herald_outbox (id, source, type, key, subject, data, correlation_id, causation_id,
       traceparent, tracestate, extensions, deliver_at_ms, staged_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const nowMs = Date.now();
    for (const record of records) {
      const extensions =
        Object.keys(record.extensions).length === 0 ? null : JSON.stringify(record.extensions);
      insert.run(
        record.id,
        record.source,
        record.type,
        record.key ?? null,
        record.subject ?? null,
        record.data,
        record.correlationId,
        record.causationId ?? null,
        record.traceparent ?? null,
        record.tracestate ?? null,
        extensions,
        record.deliverAtMs ?? null,
        nowMs,
      );
    }
    if (transaction === this.#host.connection()) this.#stagedInTransaction = true;
  }

  /** Called by the store after each COMMIT or ROLLBACK of its connection: wakes the relay when rows were committed. */
  ended(committed: boolean): void {
    const staged = this.#stagedInTransaction;
    this.#stagedInTransaction = false;
    if (staged && committed) for (const listener of this.#listeners) listener();
  }

  transaction<T>(work: (transaction: unknown) => Promise<T>): Promise<T> {
    return this.#host.transaction(work);
  }

  relay(
    batchRows: number,
    publish: (records: readonly StagedRecord[]) => Promise<ReadonlySet<string>>,
  ): Promise<OutboxPass> {
    const pass = this.#passTail.then(() => this.#pass(batchRows, publish));
    this.#passTail = pass.catch(() => undefined);
    return pass;
  }

  async #pass(
    batchRows: number,
    publish: (records: readonly StagedRecord[]) => Promise<ReadonlySet<string>>,
  ): Promise<OutboxPass> {
    const rows = this.#read()
      .prepare(
        `SELECT seq, id, source, type, key, subject, data, correlation_id, causation_id, traceparent, tracestate,
         extensions, deliver_at_ms FROM herald_outbox WHERE sent_at_ms IS NULL ORDER BY seq LIMIT ?`,
      )
      .all(batchRows) as unknown as OutboxRow[];
    if (rows.length === 0) return { claimed: 0, published: 0, failed: false };
    const published = await publish(rows.map(toRecord));
    if (published.size > 0) {
      await this.#host.transaction(async (database) => {
        const mark = database.prepare('UPDATE herald_outbox SET sent_at_ms = ? WHERE id = ?');
        const nowMs = Date.now();
        for (const id of published) mark.run(nowMs, id);
      });
    }
    return { claimed: rows.length, published: published.size, failed: published.size < rows.length };
  }

  watch(listener: () => void): () => Promise<void> {
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  prune(retentionMs: number): Promise<number> {
    return this.#host.transaction(async (database) => {
      const statement = database.prepare(
        `DELETE FROM herald_outbox WHERE seq IN (SELECT seq FROM herald_outbox
         WHERE sent_at_ms IS NOT NULL AND sent_at_ms < ? LIMIT ${PRUNE_BATCH_ROWS})`,
      );
      let deleted = 0;
      for (let batch = 0; batch < PRUNE_BATCHES_MAX; batch++) {
        const changes = Number(statement.run(Date.now() - retentionMs).changes);
        deleted += changes;
        if (changes < PRUNE_BATCH_ROWS) break;
      }
      return deleted;
    });
  }

  async lag(): Promise<OutboxLag> {
    const row = this.#read()
      .prepare(
        'SELECT count(*) AS unsent, min(staged_at_ms) AS oldest FROM herald_outbox WHERE sent_at_ms IS NULL',
      )
      .get() as { unsent: number; oldest: number | null };
    return { unsentCount: row.unsent, oldestUnsentAgeMs: row.oldest === null ? 0 : Date.now() - row.oldest };
  }

  /** Closes the read connection (the store closes its own). */
  close(): void {
    this.#reader?.close();
    this.#reader = undefined;
  }

  /** The read-only connection: committed rows only. Opened after the store's, which creates the table. */
  #read(): DatabaseSync {
    this.#host.connection();
    this.#reader ??= new DatabaseSync(this.#host.path, { readOnly: true });
    return this.#reader;
  }
}

function toRecord(row: OutboxRow): StagedRecord {
  return {
    seq: row.seq,
    id: row.id,
    source: row.source,
    type: row.type,
    key: row.key ?? undefined,
    subject: row.subject ?? undefined,
    data: row.data,
    correlationId: row.correlation_id,
    causationId: row.causation_id ?? undefined,
    traceparent: row.traceparent ?? undefined,
    tracestate: row.tracestate ?? undefined,
    extensions: row.extensions === null ? {} : (JSON.parse(row.extensions) as Record<string, string>),
    deliverAtMs: row.deliver_at_ms ?? undefined,
  };
}
