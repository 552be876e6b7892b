/**
 * `postgresOutbox()`: the transactional outbox on PostgreSQL. `stage` inserts rows in the caller's
 * transaction and queues a `NOTIFY`, which PostgreSQL delivers only when (and if) that transaction
 * commits: every relay listening on the table's channel wakes right after the commit, in any
 * process, with no polling.
 *
 * Several relays (processes) share one table safely: a pass locks up to `batchRows` unsent rows
 * with `FOR UPDATE SKIP LOCKED`, so relays never take the same row, and skips (leaving for a later
 * pass) every row whose key has an earlier unsent row it did not lock — held by another relay, or
 * left by a failed publish — so per key the rows go out in staging order. Rows are marked sent in
 * the pass's transaction after their publish; a relay killed in between releases its locks and
 * another relay republishes the rows with the same ids (consumers' dedup drops the copies).
 *
 * Staging order is commit order per key when writers of one key serialise on a row of their own
 * (the aggregate they update before staging), as writers of an aggregate do.
 */
import { createHash } from 'node:crypto';
import {
  ConfigurationError,
  type OutboxLag,
  type OutboxPass,
  type OutboxRecord,
  type OutboxStore,
  type StagedRecord,
  TransportError,
} from '@herald/bus';
import pg from 'pg';
import { translateError } from './errors.ts';
import { inboxTable } from './schema.ts';

/** Default table of the outbox. */
export const DEFAULT_OUTBOX_TABLE = 'herald_outbox';

/** Options of {@link postgresOutbox}. */
export interface PostgresOutboxOptions {
  /** The pool the relay uses (the outbox never ends it). */
  readonly pool: pg.Pool;
  /** Outbox table, `table` or `schema.table` (default `herald_outbox`). */
  readonly table?: string;
  /** Create the table when missing (default true); with false, run {@link outboxSchemaSql} in your migrations. */
  readonly createSchema?: boolean;
}

/** The PostgreSQL outbox (see the file comment). `stage` takes a `pg` client inside a transaction. */
export interface PostgresOutbox extends OutboxStore {
  /** The table, as configured. */
  readonly table: string;
  /** Creates the table if missing; idempotent and safe from many processes at once. */
  ensureSchema(): Promise<void>;
}

/** Rows one prune statement deletes, and statements per prune at most. */
const PRUNE_BATCH_ROWS = 5000;
const PRUNE_BATCHES_MAX = 100;
/** Wait before listening again after the listening connection failed (the fallback pass covers the gap). */
const LISTEN_RETRY_MS = 1000;

/**
 * The schema of the outbox table `table` (default `herald_outbox`): idempotent DDL. `seq` orders
 * the rows; the partial indexes keep the relay's and the lag's queries on unsent rows only.
 */
export function outboxSchemaSql(table: string = DEFAULT_OUTBOX_TABLE): string {
  const checked = inboxTable(table);
  const base = table.split('.').pop()!;
  return [
    `create table if not exists ${checked.quoted} (`,
    '  seq bigint generated always as identity primary key,',
    '  id text not null unique,',
    '  source text not null,',
    '  type text not null,',
    '  key text,',
    '  subject text,',
    '  data text not null,',
    '  correlation_id text not null,',
    '  causation_id text,',
    '  traceparent text,',
    '  tracestate text,',
    '  extensions jsonb,',
    '  staged_at timestamptz not null default now(),',
    '  sent_at timestamptz',
    ');',
    // Added after the first release of the table: databases created before it gain the column.
    `alter table ${checked.quoted} add column if not exists deliver_at_ms bigint;`,
    `create index if not exists "${base}_unsent" on ${checked.quoted} (seq) where sent_at is null;`,
    `create index if not exists "${base}_key_unsent" on ${checked.quoted} (key, seq) where sent_at is null;`,
    `create index if not exists "${base}_sent" on ${checked.quoted} (sent_at) where sent_at is not null;`,
  ].join('\n');
}

/** Creates the outbox on `options.pool`; nothing connects until first use. */
export function postgresOutbox(options: PostgresOutboxOptions): PostgresOutbox {
  if (options?.pool === undefined) {
    throw new ConfigurationError(
      'postgresOutbox: pass { pool } (a pg.Pool on the database of your business tables)',
    );
  }
  return new Outbox(options);
}

interface OutboxRow {
  seq: string;
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
  extensions: Record<string, string> | null;
  deliver_at_ms: string | null;
}

class Outbox implements PostgresOutbox {
  readonly name: string;
  readonly table: string;
  readonly #pool: pg.Pool;
  readonly #quoted: string;
  readonly #channel: string;
  readonly #createSchema: boolean;
  readonly #listeners = new Set<() => void>();
  #schemaReady: Promise<void> | undefined;

  constructor(options: PostgresOutboxOptions) {
    this.table = options.table ?? DEFAULT_OUTBOX_TABLE;
    this.#quoted = inboxTable(this.table).quoted;
    this.name = `postgres:${this.table}`;
    this.#pool = options.pool;
    this.#createSchema = options.createSchema ?? true;
    this.#channel = `herald_outbox_${createHash('sha256').update(this.#quoted).digest('hex').slice(0, 16)}`;
  }

  ensureSchema(): Promise<void> {
    this.#schemaReady ??= this.#ensureSchema().catch((error: unknown) => {
      this.#schemaReady = undefined; // the next use tries again
      throw error;
    });
    return this.#schemaReady;
  }

  async stage(transaction: unknown, records: readonly OutboxRecord[]): Promise<void> {
    if (!(transaction instanceof pg.Client) && typeof (transaction as pg.ClientBase)?.query !== 'function') {
      throw new ConfigurationError('postgres outbox: stage into a pg client inside a transaction');
    }
    if (records.length === 0) return;
    await this.ensureSchema();
    const columns: (string | null)[][] = Array.from({ length: 12 }, () => []);
    for (const record of records) {
      const extensions =
        Object.keys(record.extensions).length === 0 ? null : JSON.stringify(record.extensions);
      const values = [
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
        record.deliverAtMs === undefined ? null : String(record.deliverAtMs),
      ];
      for (const [index, value] of values.entries()) columns[index]!.push(value);
    }
    // One round trip: the rows, and a NOTIFY that PostgreSQL sends only if this transaction commits.
    await (transaction as pg.ClientBase).query(
      `with staged as (insert into ${this.#quoted} (id, source, type, key, subject, data, correlation_id,
         causation_id, traceparent, tracestate, extensions, deliver_at_ms)
       select id, source, type, key, subject, data, correlation_id, causation_id, traceparent, tracestate,
         extensions::jsonb, deliver_at_ms::bigint
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
         $9::text[], $10::text[], $11::text[], $12::text[]) with ordinality
         as r(id, source, type, key, subject, data, correlation_id, causation_id, traceparent, tracestate,
           extensions, deliver_at_ms, position)
       order by position returning 1)
       select pg_notify($13, '') from (select count(*) from staged) as counted`,
      [...columns, this.#channel],
    );
  }

  async transaction<T>(work: (transaction: unknown) => Promise<T>): Promise<T> {
    await this.ensureSchema();
    const client = await this.#connect('opening a transaction on');
    let broken: Error | undefined;
    const onClientError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onClientError);
    try {
      await client.query('begin');
      const value = await work(client);
      const committed = await client.query('commit');
      // COMMIT of a transaction a failed statement aborted answers ROLLBACK instead of failing.
      if (committed.command !== 'COMMIT') {
        throw new TransportError(
          `bus.transaction on outbox "${this.table}" was rolled back: a statement inside it failed and its ` +
            'error was caught; let it propagate (or use a savepoint), then run the transaction again',
          { retriable: true },
        );
      }
      for (const listener of this.#listeners) listener();
      return value;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => {
        broken ??= rollbackError;
      });
      throw error;
    } finally {
      client.removeListener('error', onClientError);
      client.release(broken ?? false);
    }
  }

  async relay(
    batchRows: number,
    publish: (records: readonly StagedRecord[]) => Promise<ReadonlySet<string>>,
  ): Promise<OutboxPass> {
    await this.ensureSchema();
    const client = await this.#connect('relaying');
    let broken: Error | undefined;
    const onClientError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onClientError);
    try {
      await client.query('begin');
      // Locked rows (ours) minus those whose key has an earlier unsent row we did not lock: that
      // row belongs to another relay's pass (or failed to publish), and must go out first.
      const claimed = await client.query<OutboxRow>(
        `with claimed as (select seq from ${this.#quoted} where sent_at is null order by seq limit $1
           for update skip locked)
         select t.seq, t.id, t.source, t.type, t.key, t.subject, t.data, t.correlation_id, t.causation_id, t.traceparent,
           t.tracestate, t.extensions, t.deliver_at_ms
         from ${this.#quoted} t join claimed using (seq)
         where t.key is null or not exists (select 1 from ${this.#quoted} p where p.key = t.key
           and p.sent_at is null and p.seq < t.seq and p.seq not in (select seq from claimed))
         order by t.seq`,
        [batchRows],
      );
      if (claimed.rows.length === 0) {
        await client.query('commit');
        return { claimed: 0, published: 0, failed: false };
      }
      const published = await publish(claimed.rows.map(toRecord));
      if (published.size > 0) {
        await client.query(`update ${this.#quoted} set sent_at = now() where id = any($1::text[])`, [
          [...published],
        ]);
      }
      await client.query('commit');
      return {
        claimed: claimed.rows.length,
        published: published.size,
        failed: published.size < claimed.rows.length,
      };
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => {
        broken ??= rollbackError;
      });
      throw translateError(error, `relaying outbox "${this.table}"`, describeServer(this.#pool));
    } finally {
      client.removeListener('error', onClientError);
      client.release(broken ?? false);
    }
  }

  watch(listener: () => void): () => Promise<void> {
    this.#listeners.add(listener);
    let stopped = false;
    let client: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    const listen = async () => {
      const connection = new pg.Client({ ...this.#pool.options, application_name: 'herald-outbox-listen' });
      client = connection;
      connection.on('notification', () => listener());
      connection.on('error', () => {
        // Dropped: listen again shortly; meanwhile the relay's fallback pass finds the rows.
        if (client === connection) client = undefined;
        void connection.end().catch(() => undefined);
        if (!stopped) retry = setTimeout(() => void listen(), LISTEN_RETRY_MS).unref();
      });
      try {
        await connection.connect();
        await connection.query(`listen "${this.#channel}"`);
        if (stopped) await connection.end();
      } catch {
        connection.emit('error', new Error('listen failed'));
      }
    };
    void listen();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      this.#listeners.delete(listener);
      await client?.end().catch(() => undefined);
    };
  }

  async prune(retentionMs: number): Promise<number> {
    await this.ensureSchema();
    let deleted = 0;
    for (let batch = 0; batch < PRUNE_BATCHES_MAX; batch++) {
      const result = await this.#pool.query(
        `delete from ${this.#quoted} where seq in (select seq from ${this.#quoted}
         where sent_at is not null and sent_at < now() - $1::double precision * interval '1 millisecond'
         limit ${PRUNE_BATCH_ROWS})`,
        [retentionMs],
      );
      deleted += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < PRUNE_BATCH_ROWS) break;
    }
    return deleted;
  }

  async lag(): Promise<OutboxLag> {
    await this.ensureSchema();
    const result = await this.#pool.query(
      `select count(*)::int as unsent,
         coalesce(extract(epoch from now() - min(staged_at)) * 1000, 0)::float8 as oldest_ms
       from ${this.#quoted} where sent_at is null`,
    );
    const row = result.rows[0] as { unsent: number; oldest_ms: number };
    return { unsentCount: row.unsent, oldestUnsentAgeMs: Math.max(0, row.oldest_ms) };
  }

  async #ensureSchema(): Promise<void> {
    const exists = await this.#pool.query('select to_regclass($1) is not null as exists', [this.#quoted]);
    if (exists.rows[0]?.exists) return;
    if (!this.#createSchema) {
      throw new ConfigurationError(
        `outbox table "${this.table}" does not exist; create it in your migrations with ` +
          `outboxSchemaSql(${JSON.stringify(this.table)}), or pass createSchema: true`,
      );
    }
    const client = await this.#connect('creating');
    try {
      await client.query('begin');
      // Concurrent "create table if not exists" can still collide on the catalog; a lock serializes them.
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [this.#quoted]);
      await client.query(outboxSchemaSql(this.table));
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw translateError(error, `creating outbox table "${this.table}"`, describeServer(this.#pool));
    } finally {
      client.release();
    }
  }

  async #connect(action: string): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw translateError(error, `${action} outbox "${this.table}"`, describeServer(this.#pool));
    }
  }
}

function toRecord(row: OutboxRow): StagedRecord {
  return {
    seq: Number(row.seq),
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
    extensions: row.extensions ?? {},
    deliverAtMs: row.deliver_at_ms === null ? undefined : Number(row.deliver_at_ms),
  };
}

/** `host:port` of the pool's server, for error messages (never the password). */
function describeServer(pool: pg.Pool): string {
  const client = new pg.Client(pool.options);
  return `${client.host || 'localhost'}:${client.port}`;
}
