/**
 * The event store on PostgreSQL, for teams that keep everything there. One table: a row per
 * event, `position` an identity column (the global order), `(stream, version)` unique. Appends
 * take a transaction-scoped advisory lock, so transactions commit in position order: a reader at
 * position p never later finds a smaller position committed behind it (no gaps for subscriptions
 * to skip). The version check reads the stream's last version under that lock; the unique key is
 * the second line of defence against a writer that bypasses the lock.
 */
import { ConfigurationError, type EventContract, HeraldError, TransportError } from '@herald/bus';
import pg from 'pg';
import type { StoreBackend } from './backend.ts';
import type { EncodedEvent, StoredEvent } from './codec.ts';
import { WrongExpectedVersionError } from './errors.ts';
import { StoreCore } from './store-core.ts';
import type { AppendResult, EventStore, ExpectedVersion } from './types.ts';

/** Options of {@link openPostgresEventStore}. */
export interface PostgresEventStoreOptions {
  /** A pool you own (never ended by the store); otherwise the store creates one from `connectionString`. */
  readonly pool?: pg.Pool;
  /** Where to connect when no `pool` is given (default `DATABASE_URL`, else pg's `PG*` variables). */
  readonly connectionString?: string;
  /** Connections of the pool the store creates (default 10). */
  readonly poolSizeMax?: number;
  /** The events table, `table` or `schema.table` (default `herald_events`), created if missing. */
  readonly table?: string;
  /** Contracts whose events reads upcast (contracts appended through this store are known anyway). */
  readonly contracts?: readonly EventContract[];
  /** How often an idle subscription looks for new events (default 100 ms, from 5 ms to 10 s). */
  readonly pollIntervalMs?: number;
}

/** Default events table. */
export const DEFAULT_EVENTS_TABLE = 'herald_events';

/** Advisory lock key of appends (one per table, derived from its name). */
function lockKey(table: string): number {
  let hash = 0;
  for (const char of `herald-eventstore:${table}`) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}

function quoteTable(name: string): string {
  const parts = name.split('.');
  const valid = parts.length <= 2 && parts.every((part) => /^[a-z_][a-z0-9_]{0,47}$/.test(part));
  if (!valid) {
    throw new ConfigurationError(
      `openPostgresEventStore: table must be "table" or "schema.table" in lower-case letters, digits and underscores, got ${JSON.stringify(name)}`,
    );
  }
  return parts.map((part) => `"${part}"`).join('.');
}

/** The idempotent DDL of the events table `table` (default `herald_events`). */
export function eventStoreSchemaSql(table: string = DEFAULT_EVENTS_TABLE): string {
  const quoted = quoteTable(table);
  return [
    `create table if not exists ${quoted} (`,
    '  position bigint generated always as identity primary key,',
    '  stream text not null,',
    '  version integer not null,',
    '  id text not null,',
    '  type text not null,',
    '  schema_version integer not null,',
    '  data text not null,',
    "  metadata text not null default '{}',",
    '  recorded_at timestamptz not null default now(),',
    '  unique (stream, version)',
    ');',
  ].join('\n');
}

function wrap(error: unknown, action: string): unknown {
  if (error instanceof HeraldError) return error;
  return new TransportError(
    `event store on PostgreSQL: ${action} failed (${String(error)}); check the server and retry`,
    {
      retriable: true,
      cause: error,
    },
  );
}

interface EventRow {
  position: string;
  stream: string;
  version: number;
  id: string;
  type: string;
  schema_version: number;
  data: string;
  metadata: string;
  recorded_ms: string;
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
    recordedAtMs: Number(row.recorded_ms),
  };
}

const COLUMNS =
  'position, stream, version, id, type, schema_version, data, metadata, ' +
  '(extract(epoch from recorded_at) * 1000)::bigint as recorded_ms';

class PostgresBackend implements StoreBackend {
  readonly name = 'postgres';
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #table: string;
  readonly #lockKey: number;
  readonly #pollIntervalMs: number;

  constructor(pool: pg.Pool, ownsPool: boolean, table: string, pollIntervalMs: number) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#table = quoteTable(table);
    this.#lockKey = lockKey(table);
    this.#pollIntervalMs = pollIntervalMs;
  }

  async append(
    stream: string,
    events: readonly EncodedEvent[],
    expected: ExpectedVersion,
  ): Promise<AppendResult> {
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw wrap(error, 'connecting');
    });
    let broken = false;
    try {
      // Three round trips: begin with the lock, check and insert in one statement (its snapshot is
      // taken after the lock, so it sees every append committed before), commit.
      await client.query(`begin; select pg_advisory_xact_lock(${this.#lockKey})`);
      try {
        const result = await client.query<{ actual: number; last: string | null }>(
          `with current as (select coalesce(max(version), 0) as version from ${this.#table} where stream = $1), ` +
            `inserted as (insert into ${this.#table} (stream, version, id, type, schema_version, data, metadata) ` +
            'select $1, (select version from current) + ordinality::integer, id, type, schema_version, data, metadata ' +
            'from unnest($3::text[], $4::text[], $5::integer[], $6::text[], $7::text[]) with ordinality ' +
            'as e(id, type, schema_version, data, metadata) ' +
            'where $2::integer < 0 or $2::integer = (select version from current) ' +
            'order by ordinality returning position) ' +
            'select (select version from current) as actual, (select max(position) from inserted)::text as last',
          [
            stream,
            expected === 'any' ? -1 : expected,
            events.map((event) => event.id),
            events.map((event) => event.type),
            events.map((event) => event.schemaVersion),
            events.map((event) => event.data),
            events.map((event) => event.metadata),
          ],
        );
        const row = result.rows[0]!;
        if (row.last === null) throw new WrongExpectedVersionError(stream, expected, row.actual);
        await client.query('commit');
        return { version: row.actual + events.length, position: BigInt(row.last) };
      } catch (error) {
        await client.query('rollback').catch(() => {
          broken = true;
        });
        if ((error as { code?: string }).code === '23505') {
          throw new WrongExpectedVersionError(stream, expected, await this.streamVersion(stream));
        }
        throw wrap(error, `appending to "${stream}"`);
      }
    } finally {
      client.release(broken);
    }
  }

  async #query<R extends pg.QueryResultRow>(sql: string, values: unknown[], action: string): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(sql, values)).rows;
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
      direction === 'forward' ? 'version >= $2 order by version' : 'version <= $2 order by version desc';
    const rows = await this.#query<EventRow>(
      `select ${COLUMNS} from ${this.#table} where stream = $1 and ${condition} limit $3`,
      [stream, Math.min(fromVersion, 2 ** 31 - 1), countMax],
      `reading stream "${stream}"`,
    );
    return rows.map(toStored);
  }

  async readAll(
    fromPosition: bigint,
    countMax: number,
  ): Promise<{ events: StoredEvent[]; nextPosition: bigint }> {
    const rows = await this.#query<EventRow>(
      `select ${COLUMNS} from ${this.#table} where position >= $1 order by position limit $2`,
      [fromPosition.toString(), countMax],
      'reading all streams',
    );
    const events = rows.map(toStored);
    const last = events.at(-1);
    return { events, nextPosition: last === undefined ? fromPosition : last.position + 1n };
  }

  async streamVersion(stream: string): Promise<number> {
    const rows = await this.#query<{ version: number | null }>(
      `select max(version) as version from ${this.#table} where stream = $1`,
      [stream],
      `reading the version of "${stream}"`,
    );
    return rows[0]?.version ?? 0;
  }

  async headPosition(): Promise<bigint> {
    const rows = await this.#query<{ position: string | null }>(
      `select max(position) as position from ${this.#table}`,
      [],
      'reading the head position',
    );
    const position = rows[0]?.position;
    return position === null || position === undefined ? 0n : BigInt(position) + 1n;
  }

  waitForAppend(_position: bigint, timeoutMs: number, signal: AbortSignal): Promise<void> {
    // Polling: a subscription reads again after the interval. LISTEN/NOTIFY would need a
    // connection per store held open; the interval bounds the added latency instead.
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
    if (this.#ownsPool) await this.#pool.end();
  }
}

/**
 * Opens the event store on PostgreSQL, creating the events table if missing. Rejects with a
 * `ConfigurationError` for bad options, a retriable `TransportError` when the server cannot be
 * reached.
 *
 * @example
 * const store = await openPostgresEventStore({ connectionString: process.env.DATABASE_URL });
 */
export async function openPostgresEventStore(options: PostgresEventStoreOptions = {}): Promise<EventStore> {
  if (options.pool !== undefined && options.connectionString !== undefined) {
    throw new ConfigurationError('openPostgresEventStore: pass either pool or connectionString, not both');
  }
  const table = options.table ?? DEFAULT_EVENTS_TABLE;
  const schemaSql = eventStoreSchemaSql(table);
  const pollIntervalMs = options.pollIntervalMs ?? 100;
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 5 || pollIntervalMs > 10_000) {
    throw new ConfigurationError(
      `openPostgresEventStore: pollIntervalMs must be an integer from 5 to 10000, got ${pollIntervalMs}`,
    );
  }
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString ?? process.env.DATABASE_URL,
      max: options.poolSizeMax ?? 10,
    });
  try {
    // Concurrent first opens race on "create table if not exists"; the lock serialises them (a
    // multi-statement query is one implicit transaction, which the lock lasts).
    await pool.query(`select pg_advisory_xact_lock(${lockKey(table)}); ${schemaSql}`);
  } catch (error) {
    if (options.pool === undefined) await pool.end();
    throw wrap(error, `creating table ${table}`);
  }
  return new StoreCore(
    new PostgresBackend(pool, options.pool === undefined, table, pollIntervalMs),
    options.contracts ?? [],
  );
}
