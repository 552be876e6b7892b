/**
 * `postgresInbox()`: an {@link IdempotencyStore} on PostgreSQL with a transactional inbox. The
 * dedup record of a message and the handler's own writes commit in one transaction, so a message
 * delivered twice (at-least-once) has its effects applied once. Its options and their checks are in
 * `inbox-options.ts`.
 */
import { createHash } from 'node:crypto';
import {
  ClosedError,
  ConfigurationError,
  HeraldError,
  type IdempotencyKey,
  type IdempotencyStore,
  TransportError,
} from '@herald/bus';
import pg from 'pg';
import { isRetriable, translateError } from './errors.ts';
import { checkOptions, type PostgresInboxOptions, type Settings } from './inbox-options.ts';
import { type PostgresOutbox, postgresOutbox } from './postgres-outbox.ts';
import { inboxSchemaSql } from './schema.ts';

/** The PostgreSQL inbox: an {@link IdempotencyStore} whose `transaction` hands `work` a `pg` client. */
export interface PostgresInbox extends IdempotencyStore {
  readonly name: 'postgres';
  /** The pool in use (yours, or the one the inbox created and ends on `close`). */
  readonly pool: pg.Pool;
  /** The inbox table, as configured. */
  readonly table: string;
  /** The outbox in the same database, when created with the `outbox` option. */
  readonly outbox?: PostgresOutbox;
  /**
   * Runs `work` in one transaction with the insert of `key`: a duplicate key rolls back and
   * resolves `{duplicate: true}` without running `work`; otherwise `work`'s writes and the key
   * commit together, or (when `work` throws or the commit fails) neither does and the error is
   * rethrown. Serialization failures and deadlocks reject with a retriable `TransportError`. Run
   * every statement of `work` on the given client, and never commit or roll back yourself.
   */
  transaction<T>(
    key: IdempotencyKey,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<{ duplicate: true } | { duplicate: false; value: T }>;
  /** Creates the table if missing; run on first use, idempotent and safe from many processes at once. */
  ensureSchema(): Promise<void>;
  /**
   * Connects and runs {@link ensureSchema}: `bus.start()` calls it, so a server that cannot be
   * reached, a missing database or (with `createSchema: false`) a missing table fails `start()`
   * with the same error the first message would have met. Rejects with `ClosedError` after close.
   */
  open(): Promise<void>;
  /** Deletes expired rows (and rows above `entriesMax`) in bounded batches; resolves with the count deleted. */
  prune(): Promise<number>;
  /** Stops pruning and ends the pool the inbox created (never yours). Idempotent. */
  close(): Promise<void>;
}

/** Batches one prune runs at most; the rest waits for the next prune. */
export const PRUNE_BATCHES_MAX = 100;

/**
 * Creates the PostgreSQL inbox. Nothing connects until first use, which also creates the table
 * (see {@link PostgresInboxOptions.createSchema}).
 *
 * @example
 * const bus = createBus({ transport, idempotency: postgresInbox({ connectionString: process.env.DATABASE_URL }) });
 * bus.on(PaymentCaptured, { group: 'ledger' }, async (payment, context) => {
 *   await context.transaction(async (client: pg.PoolClient) => {
 *     await client.query('update accounts set balance = balance + $1 where id = $2', [payment.amount, payment.account]);
 *   });
 * });
 */
export function postgresInbox(options: PostgresInboxOptions = {}): PostgresInbox {
  const inbox = new Inbox(checkOptions(options));
  const outbox = options.outbox;
  if (outbox === undefined || outbox === false) return inbox;
  const table = outbox === true ? undefined : outbox.table;
  inbox.outbox = postgresOutbox({
    pool: inbox.pool,
    ...(table === undefined ? {} : { table }),
    createSchema: options.createSchema ?? true,
  });
  return inbox;
}

/** Short stable suffix for prepared statement names, unique per table (names are cut at 63 bytes). */
function statementSuffix(table: string): string {
  return createHash('sha256').update(table).digest('hex').slice(0, 12);
}

class Inbox implements PostgresInbox {
  readonly name = 'postgres';
  readonly pool: pg.Pool;
  readonly table: string;
  outbox: PostgresOutbox | undefined;
  readonly #settings: Settings;
  readonly #statements: { readonly seen: string; readonly insert: string };
  readonly #begin: string;
  #schemaReady: Promise<void> | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<number> | undefined;
  #closed: Promise<void> | undefined;
  #serverDescription: string | undefined;

  constructor(settings: Settings) {
    this.#settings = settings;
    this.pool = settings.pool;
    this.table = settings.table.name;
    const suffix = statementSuffix(settings.table.quoted);
    this.#statements = { seen: `herald_seen_${suffix}`, insert: `herald_insert_${suffix}` };
    // One round trip: the timeout also bounds statements of a pool the inbox does not own.
    this.#begin =
      `begin isolation level ${settings.isolationLevel}; ` +
      `set local statement_timeout = ${settings.statementTimeoutMs}`;
  }

  async seen(key: IdempotencyKey): Promise<boolean> {
    await this.#ready();
    const result = await this.#query('checking a message in', {
      name: this.#statements.seen,
      text: `select 1 from ${this.#settings.table.quoted} where group_name = $1 and source = $2 and id = $3`,
      values: [key.group, key.source, key.id],
    });
    return result.rowCount !== null && result.rowCount > 0;
  }

  async remember(key: IdempotencyKey): Promise<void> {
    await this.#ready();
    await this.#query('recording a message in', this.#insert(key));
  }

  async transaction<T>(
    key: IdempotencyKey,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<{ duplicate: true } | { duplicate: false; value: T }> {
    await this.#ready();
    const client = await this.#connect();
    let broken: Error | undefined;
    // A checked-out client whose connection dies (the server terminated it, the network dropped)
    // emits 'error'; unheard, that would crash the process. The failing query rejects as well,
    // and the client is discarded on release.
    const onClientError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onClientError);
    try {
      // One round trip for begin, timeout and insert: a simple query cannot take parameters, so
      // the key goes in as literals escaped by pg.
      const opened = (await this.#run(client, this.#beginAndInsert(key))) as unknown as pg.QueryResult[];
      if (opened[opened.length - 1]?.rowCount === 0) {
        await this.#run(client, 'rollback');
        return { duplicate: true };
      }
      const value = await this.#work(client, work, () => broken);
      const committed = await this.#run(client, 'commit');
      // COMMIT of a transaction a failed statement aborted answers ROLLBACK instead of failing.
      if (committed.command !== 'COMMIT') {
        throw new TransportError(
          `inbox transaction on ${this.#where()} was rolled back: a statement inside context.transaction ` +
            'failed and its error was caught; let it propagate (or use a savepoint) so the message is retried',
          { retriable: true },
        );
      }
      return { duplicate: false, value };
    } catch (error) {
      broken = (await this.#rollback(client, error)) ?? broken;
      throw error;
    } finally {
      client.removeListener('error', onClientError);
      client.release(broken ?? false);
    }
  }

  ensureSchema(): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(new ClosedError('postgres inbox'));
    this.#schemaReady ??= this.#createSchema().catch((error: unknown) => {
      this.#schemaReady = undefined; // the next use tries again
      throw error;
    });
    return this.#schemaReady;
  }

  open(): Promise<void> {
    return this.#ready();
  }

  prune(): Promise<number> {
    if (this.#closed !== undefined) return Promise.reject(new ClosedError('postgres inbox'));
    // One prune at a time: a call during a run shares its result.
    this.#pruning ??= this.#prune().finally(() => {
      this.#pruning = undefined;
    });
    return this.#pruning;
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    clearTimeout(this.#pruneTimer);
    await this.#pruning?.catch(() => {});
    if (this.#settings.ownsPool) await this.pool.end();
  }

  async #ready(): Promise<void> {
    if (this.#closed !== undefined) throw new ClosedError('postgres inbox');
    await this.ensureSchema();
  }

  #beginAndInsert(key: IdempotencyKey): string {
    const values = [key.group, key.source, key.id].map((value) => pg.escapeLiteral(value)).join(', ');
    return (
      `${this.#begin}; insert into ${this.#settings.table.quoted} (group_name, source, id) ` +
      `values (${values}) on conflict do nothing returning 1`
    );
  }

  #insert(key: IdempotencyKey): pg.QueryConfig {
    return {
      name: this.#statements.insert,
      text:
        `insert into ${this.#settings.table.quoted} (group_name, source, id) values ($1, $2, $3) ` +
        'on conflict do nothing returning 1',
      values: [key.group, key.source, key.id],
    };
  }

  /** Runs `work`; `lost()` is the error that killed the client's connection meanwhile, if one did. */
  async #work<T>(
    client: pg.PoolClient,
    work: (client: pg.PoolClient) => Promise<T>,
    lost: () => Error | undefined,
  ): Promise<T> {
    try {
      return await work(client);
    } catch (error) {
      // The connection died under the handler: its statements fail with pg's plain "not
      // queryable" error, so report the cause (the server's or the socket's) as a lost connection.
      const connectionError = lost();
      if (connectionError !== undefined && !(error instanceof HeraldError)) {
        throw translateError(connectionError, 'context.transaction', this.#where());
      }
      // The server failed the handler's own statement in a way a retry may not meet (a lost race,
      // a statement timeout, the connection terminated): say it is retriable, keep the original
      // as cause. Every other error, the handler's own included, passes unchanged.
      if (error instanceof pg.DatabaseError && isRetriable(error)) {
        throw translateError(error, 'context.transaction', this.#where());
      }
      throw error;
    }
  }

  /** Rolls back after `error`; returns an error when the connection is unusable and must be discarded. */
  async #rollback(client: pg.PoolClient, error: unknown): Promise<Error | undefined> {
    try {
      await client.query('rollback');
      return undefined;
    } catch (rollbackError) {
      return rollbackError instanceof Error
        ? rollbackError
        : error instanceof Error
          ? error
          : new Error('rollback failed');
    }
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw translateError(error, `connecting to PostgreSQL for ${this.#where()}`, this.#server);
    }
  }

  async #run(client: pg.PoolClient, statement: string | pg.QueryConfig): Promise<pg.QueryResult> {
    try {
      return await client.query(statement);
    } catch (error) {
      throw translateError(error, `inbox transaction on ${this.#where()}`, this.#server);
    }
  }

  async #query(action: string, statement: pg.QueryConfig): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(statement);
    } catch (error) {
      throw translateError(error, `${action} ${this.#where()}`, this.#server);
    }
  }

  /** `host:port`, worked out on first need (only error messages use it). */
  get #server(): string {
    this.#serverDescription ??= describeServer(this.pool);
    return this.#serverDescription;
  }

  #where(): string {
    return `inbox table "${this.table}"`;
  }

  async #createSchema(): Promise<void> {
    const client = await this.#connect();
    let broken: Error | undefined;
    // A checked-out client whose connection dies (the server terminated it, the network dropped)
    // emits 'error'; unheard, that would crash the process. The failing query rejects as well,
    // and the client is discarded on release.
    const onClientError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onClientError);
    try {
      const exists = await this.#run(client, {
        text: 'select to_regclass($1) is not null as exists',
        values: [this.#settings.table.quoted],
      });
      if (!exists.rows[0]?.exists) await this.#createTable(client);
    } catch (error) {
      broken = (await this.#rollback(client, error)) ?? broken;
      throw error;
    } finally {
      client.removeListener('error', onClientError);
      client.release(broken ?? false);
    }
    this.#schedulePrune();
  }

  async #createTable(client: pg.PoolClient): Promise<void> {
    const { table } = this.#settings;
    if (!this.#settings.createSchema) {
      throw new ConfigurationError(
        `inbox table "${table.name}" does not exist on ${this.#server}; create it in your migrations ` +
          `with inboxSchemaSql(${JSON.stringify(table.name)}), or pass createSchema: true`,
      );
    }
    await this.#run(client, 'begin');
    // Concurrent "create table if not exists" can still collide on the catalog; a lock per table serializes them.
    await this.#run(client, { text: 'select pg_advisory_xact_lock(hashtext($1))', values: [table.quoted] });
    await this.#run(client, inboxSchemaSql(table.name));
    await this.#run(client, 'commit');
  }

  #schedulePrune(): void {
    const intervalMs = this.#settings.pruneIntervalMs;
    if (intervalMs === 0 || this.#closed !== undefined || this.#pruneTimer !== undefined) return;
    const tick = () => {
      this.prune()
        .catch((error: unknown) => {
          if (this.#closed !== undefined) return;
          this.#settings.logger.warn(
            { table: this.table, error: String(error) },
            'inbox prune failed; retrying at the next interval',
          );
        })
        .finally(() => {
          if (this.#closed === undefined) this.#pruneTimer = setTimeout(tick, intervalMs).unref();
        });
    };
    // Unref'd: pruning never keeps a process alive on its own.
    this.#pruneTimer = setTimeout(tick, intervalMs).unref();
  }

  async #prune(): Promise<number> {
    await this.ensureSchema();
    const { table, retentionMs, entriesMax } = this.#settings;
    let deleted = await this.#deleteThrough("now() - $1::double precision * interval '1 millisecond'", [
      retentionMs,
    ]);
    if (entriesMax !== undefined) {
      // The newest row beyond the first entriesMax; computed in SQL to keep microsecond precision.
      const oldestToDelete = `(select processed_at from ${table.quoted} order by processed_at desc offset $1 limit 1)`;
      deleted += await this.#deleteThrough(oldestToDelete, [entriesMax]);
    }
    return deleted;
  }

  /** Deletes rows with `processed_at` at or before the SQL expression `bound`, a batch at a time. */
  async #deleteThrough(bound: string, values: unknown[]): Promise<number> {
    const { table, pruneBatchRows } = this.#settings;
    const text =
      `delete from ${table.quoted} where (group_name, source, id) in (` +
      `select group_name, source, id from ${table.quoted} where processed_at <= ${bound} ` +
      `order by processed_at limit ${pruneBatchRows})`;
    let deleted = 0;
    for (let batch = 0; batch < PRUNE_BATCHES_MAX && this.#closed === undefined; batch++) {
      const rows = (await this.#query('pruning', { text, values })).rowCount ?? 0;
      deleted += rows;
      if (rows < pruneBatchRows) break;
    }
    return deleted;
  }
}

/** `host:port` of the pool's server, for error messages (never the password). */
function describeServer(pool: pg.Pool): string {
  const client = new pg.Client(pool.options);
  return `${client.host || 'localhost'}:${client.port}`;
}
