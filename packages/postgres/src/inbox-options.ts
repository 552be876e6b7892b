/**
 * The options of `postgresInbox()`: what callers pass, the bounds each is checked against (a bad
 * value is a `ConfigurationError` at set-up, never at run time), and the pool the inbox creates
 * when it is not given one. `postgres-inbox.ts` runs the inbox on the settings resolved here.
 */
import { ConfigurationError, consoleLogger, type Logger } from '@herald/bus';
import pg from 'pg';
import { type InboxTable, inboxTable } from './schema.ts';

/** Transaction isolation levels the inbox can run a handler's transaction at. */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/** Options of {@link postgresInbox}. */
export interface PostgresInboxOptions {
  /**
   * A pool you own (the inbox never ends it). Size it to at least the handlers' total
   * concurrency + 1: each running `transaction` holds one connection until it commits.
   */
  readonly pool?: pg.Pool;
  /** Where to connect when no `pool` is given (default `DATABASE_URL`, else pg's `PG*` variables). */
  readonly connectionString?: string;
  /** Inbox table, `table` or `schema.table` (default `herald_inbox`). */
  readonly table?: string;
  /**
   * The dedup window: a processed key is remembered at least this long (default 7 days), then
   * deleted by the next prune. A message redelivered after that would be processed again, so
   * keep it longer than any redelivery or redrive can take.
   */
  readonly retentionMs?: number;
  /**
   * Most rows kept: each prune also deletes the oldest rows above this count, which shortens
   * the dedup window under load (default: no limit, only `retentionMs` applies).
   */
  readonly entriesMax?: number;
  /** Time between background prunes (default 60 s; 0 turns them off, e.g. when a cron job calls `prune`). */
  readonly pruneIntervalMs?: number;
  /** Rows one prune statement deletes at most, keeping each delete's locks and WAL small (default 5,000). */
  readonly pruneBatchRows?: number;
  /** Connections of the pool the inbox creates (default 10; ignored with `pool`). */
  readonly poolSizeMax?: number;
  /** Server-side limit of each statement the inbox or a handler's transaction runs (default 30 s). */
  readonly statementTimeoutMs?: number;
  /** Longest wait for a connection, new or from the pool (default 10 s; ignored with `pool`). */
  readonly connectionTimeoutMs?: number;
  /** Isolation level of `transaction` (default `read committed`). */
  readonly isolationLevel?: IsolationLevel;
  /**
   * Create the table when it is missing (default true). Pass false when migrations own the
   * schema (see {@link inboxSchemaSql}); a missing table is then a `ConfigurationError`.
   */
  readonly createSchema?: boolean;
  /** Where background prune failures are reported (default: warnings to stderr). */
  readonly logger?: Logger;
  /**
   * The transactional outbox in the same database (default none): `true` for the table
   * `herald_outbox`, or `{ table }`. Then the inbox's `outbox` is set: `tx.publish` / `tx.send`
   * inside `context.transaction` stage messages, and the bus relays them (see `postgresOutbox`).
   */
  readonly outbox?: boolean | { readonly table?: string };
}

/** Default dedup window: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Longest accepted dedup window: 10 years. */
export const RETENTION_MS_MAX = 10 * 366 * 24 * 60 * 60 * 1000;

/** The checked options an inbox runs on. */
export interface Settings {
  readonly table: InboxTable;
  readonly retentionMs: number;
  readonly entriesMax: number | undefined;
  readonly pruneIntervalMs: number;
  readonly pruneBatchRows: number;
  readonly statementTimeoutMs: number;
  readonly isolationLevel: IsolationLevel;
  readonly createSchema: boolean;
  readonly logger: Logger;
  readonly pool: pg.Pool;
  readonly ownsPool: boolean;
}

/** Checks `options` against their bounds and fills in the defaults; throws a `ConfigurationError`. */
export function checkOptions(options: PostgresInboxOptions): Settings {
  const table = inboxTable(options.table);
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  check(
    retentionMs > 0 && retentionMs <= RETENTION_MS_MAX,
    `retentionMs must be in (0, ${RETENTION_MS_MAX}]`,
  );
  const entriesMax = options.entriesMax;
  check(
    entriesMax === undefined || (Number.isSafeInteger(entriesMax) && entriesMax >= 1),
    'entriesMax must be an integer ≥ 1',
  );
  const pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
  check(pruneIntervalMs >= 0 && pruneIntervalMs <= 24 * 3_600_000, 'pruneIntervalMs must be in [0, 24 h]');
  const pruneBatchRows = options.pruneBatchRows ?? 5000;
  check(
    Number.isSafeInteger(pruneBatchRows) && pruneBatchRows >= 1 && pruneBatchRows <= 100_000,
    'pruneBatchRows must be an integer from 1 to 100,000',
  );
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  check(
    Number.isSafeInteger(statementTimeoutMs) && statementTimeoutMs >= 1 && statementTimeoutMs <= 3_600_000,
    'statementTimeoutMs must be an integer from 1 to 3,600,000',
  );
  const isolationLevel = options.isolationLevel ?? 'read committed';
  check(
    ['read committed', 'repeatable read', 'serializable'].includes(isolationLevel),
    'isolationLevel must be "read committed", "repeatable read" or "serializable"',
  );
  if (options.pool !== undefined && options.connectionString !== undefined) {
    throw new ConfigurationError('postgresInbox: pass either pool or connectionString, not both');
  }
  const ownsPool = options.pool === undefined;
  return {
    table,
    retentionMs,
    entriesMax,
    pruneIntervalMs,
    pruneBatchRows,
    statementTimeoutMs,
    isolationLevel,
    createSchema: options.createSchema ?? true,
    logger: options.logger ?? consoleLogger(),
    pool: options.pool ?? ownPool(options, statementTimeoutMs),
    ownsPool,
  };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new ConfigurationError(`postgresInbox: ${what}`);
}

function ownPool(options: PostgresInboxOptions, statementTimeoutMs: number): pg.Pool {
  const poolSizeMax = options.poolSizeMax ?? 10;
  check(
    Number.isSafeInteger(poolSizeMax) && poolSizeMax >= 1 && poolSizeMax <= 1000,
    'poolSizeMax must be an integer from 1 to 1000',
  );
  const connectionTimeoutMs = options.connectionTimeoutMs ?? 10_000;
  check(
    connectionTimeoutMs >= 1 && connectionTimeoutMs <= 600_000,
    'connectionTimeoutMs must be in [1, 600,000]',
  );
  const pool = new pg.Pool({
    connectionString: options.connectionString ?? process.env.DATABASE_URL,
    max: poolSizeMax,
    connectionTimeoutMillis: connectionTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: statementTimeoutMs,
    // A handler stuck between statements must not hold row locks forever.
    idle_in_transaction_session_timeout: Math.max(60_000, statementTimeoutMs * 2),
    application_name: 'herald-inbox',
  });
  // An idle connection the server dropped is discarded by the pool; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}
