/**
 * `sqliteIdempotencyStore`: remembers processed `(group, source, id)` keys in a SQLite file
 * (`node:sqlite`, no native addon), so deduplication survives restarts. The default store of
 * `createBus()` on the embedded broker, kept beside the broker's data.
 *
 * It is also a transactional inbox: `context.transaction((database) => …)` runs the handler's
 * writes to this same SQLite database in one transaction with the dedup record, so they apply
 * exactly once. Transactions are serialised (one connection), so keep them short and local.
 *
 * With `outbox: true` it also holds the transactional outbox (`herald_outbox`, see
 * `sqlite-outbox.ts`): `tx.publish` / `tx.send` inside those transactions stage messages that the
 * bus's relay publishes after the commit.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ConfigurationError, type IdempotencyKey, type IdempotencyStore } from '@herald/bus';
import { SQLITE_OUTBOX_SCHEMA, SqliteOutbox, upgradeSqliteOutbox } from './sqlite-outbox.ts';
import {
  type KeyBatch,
  RememberWriter,
  type RememberWriterStats,
  WRITE_LOCK_WAIT_MS_MAX,
} from './sqlite-remember-writer.ts';

/** Options of {@link sqliteIdempotencyStore}. */
export interface SqliteIdempotencyStoreOptions {
  /** The database file (created with its directory if missing). */
  readonly path: string;
  /** How long a key is remembered: the dedup window (default 7 days). */
  readonly retentionMs?: number;
  /** Keys kept at most; the oldest go first (default 10 million). */
  readonly entriesMax?: number;
  /** How often expired keys are deleted (default 1 minute). */
  readonly pruneIntervalMs?: number;
  /**
   * `'full'` (default): a key is fsync'ed before the message is acked, so not even an OS crash
   * re-applies it. `'normal'`: faster; an OS crash may forget the last keys (a process crash does not).
   */
  readonly synchronous?: 'full' | 'normal';
  /**
   * Whether the database also holds the transactional outbox (default false): then the store's
   * `outbox` is set, and a bus on this store stages with `tx.publish` / `tx.send` and relays.
   */
  readonly outbox?: boolean;
}

/** Rows deleted per prune statement, so pruning never holds the database for long. */
const PRUNE_BATCH_ROWS = 10_000;
/**
 * Keys one batch handed to the writer holds at most (a commit takes batches until it holds this
 * many, so at most twice it less one); more waiting go in the next. Waiting keys are bounded by
 * the handlers in flight (each awaits its `remember`), at most 4096 per subscriber.
 */
const REMEMBER_BATCH_KEYS_MAX = 1_000;
/**
 * Keys one `seen` query looks up at most (the keys of one run of microtasks are looked up
 * together, in queries of at most this many): bounds the statement's JSON argument and its time.
 * The lookups waiting are bounded by the handlers in flight (each awaits its `seen`).
 */
const SEEN_BATCH_KEYS_MAX = 1_000;

/**
 * The `remember`s of one turn of the event loop: one promise for all of them, settled by their
 * group commit. Keys are kept per (group, source), as the writer inserts them.
 */
interface RememberBatch {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** Ids per group, then per source. */
  readonly ids: Map<string, Map<string, string[]>>;
  keys: number;
  /** The (group, source) of the last key added and its ids: a run of one pair needs no lookup. */
  lastGroup: string | undefined;
  lastSource: string | undefined;
  lastIds: string[] | undefined;
}

/** A `seen` waiting for its turn's lookup. */
interface PendingLookup {
  readonly key: IdempotencyKey;
  readonly resolve: (seen: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** The SQLite idempotency store: an `IdempotencyStore` with its writer's counters. */
export interface SqliteIdempotencyStore extends IdempotencyStore {
  /**
   * Opens the database and starts the writer and checkpointer threads, resolving once both have
   * their connection (`bus.start()` calls it when the bus has handlers). Rejects with a `ConfigurationError` naming the path
   * when it cannot be opened, or after `close`. Again after it resolved: nothing more starts.
   */
  open(): Promise<void>;
  /**
   * What the writer thread of `remember` did so far: commits, keys, time inserting and committing,
   * WAL checkpoints (see `bench/_idempotency-breakdown.ts`). Counters only; reading is free.
   */
  readonly writerStats: Readonly<RememberWriterStats>;
}

interface Statements {
  readonly seenMany: StatementSync;
  readonly pruneOld: StatementSync;
  readonly count: StatementSync;
  readonly pruneOldest: StatementSync;
  readonly claim: StatementSync;
}

/** Opens (lazily, on first use) a SQLite-backed idempotency store at `options.path`. */
export function sqliteIdempotencyStore(options: SqliteIdempotencyStoreOptions): SqliteIdempotencyStore {
  const retentionMs = options.retentionMs ?? 7 * 24 * 60 * 60 * 1000;
  const entriesMax = options.entriesMax ?? 10_000_000;
  if (!(retentionMs > 0) || !(entriesMax > 0)) {
    throw new ConfigurationError('sqliteIdempotencyStore: retentionMs and entriesMax must be positive');
  }
  let database: DatabaseSync | undefined;
  let statements: Statements | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // One connection means one transaction at a time: handlers queue here instead of interleaving.
  let transactionTail: Promise<unknown> = Promise.resolve();
  const serialize = <T>(run: () => Promise<T>): Promise<T> => {
    const result = transactionTail.then(run, run);
    transactionTail = result.catch(() => undefined);
    return result;
  };
  /** Runs `work` between BEGIN IMMEDIATE and COMMIT; `claim` may end it early as a duplicate. */
  const inTransaction = async <T>(
    work: (connection: DatabaseSync) => Promise<T>,
    claim?: () => boolean,
  ): Promise<{ duplicate: true } | { duplicate: false; value: T }> => {
    open();
    const connection = database!;
    connection.exec('BEGIN IMMEDIATE');
    try {
      if (claim !== undefined && !claim()) {
        connection.exec('ROLLBACK');
        return { duplicate: true };
      }
      const value = await work(connection);
      connection.exec('COMMIT');
      outbox?.ended(true);
      return { duplicate: false, value };
    } catch (error) {
      if (connection.isTransaction) connection.exec('ROLLBACK');
      outbox?.ended(false);
      throw error;
    }
  };
  const outbox =
    options.outbox === true
      ? new SqliteOutbox({
          path: options.path,
          connection: () => {
            open();
            return database!;
          },
          transaction: (work) =>
            serialize(async () => {
              const outcome = await inTransaction(work);
              // Without a claim there is no duplicate.
              if (outcome.duplicate)
                throw new Error('sqlite store: unclaimed transaction reported a duplicate');
              return outcome.value;
            }),
        })
      : undefined;
  // Group commit of `remember` (see commitRemembered): the batch of this turn of the event loop
  // (undefined until a key arrives), full batches waiting for the turn's end, and the batches
  // handed to the writer and not yet committed.
  let forming: RememberBatch | undefined;
  const formed: RememberBatch[] = [];
  let commitScheduled = false;
  const committing = new Set<Promise<void>>();
  const synchronous = options.synchronous === 'normal' ? 'NORMAL' : 'FULL';
  const writer = new RememberWriter(options.path, synchronous, REMEMBER_BATCH_KEYS_MAX);
  // Lookups of `seen` waiting for the end of this run of microtasks (see lookUp).
  let lookups: PendingLookup[] = [];

  const open = (): Statements => {
    if (closed) throw new ConfigurationError('sqliteIdempotencyStore: used after close');
    if (statements !== undefined) return statements;
    try {
      mkdirSync(dirname(options.path), { recursive: true });
      database = new DatabaseSync(options.path);
    } catch (cause) {
      throw new ConfigurationError(
        `sqliteIdempotencyStore: cannot open ${options.path} (${cause instanceof Error ? cause.message : String(cause)}); pass a path whose directory exists or can be created, writable by this process`,
        { cause },
      );
    }
    database.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA busy_timeout = ${WRITE_LOCK_WAIT_MS_MAX};
      PRAGMA synchronous = ${synchronous};
      CREATE TABLE IF NOT EXISTS herald_processed (
        group_name TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL, processed_at_ms INTEGER NOT NULL,
        PRIMARY KEY (group_name, source, id)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS herald_processed_age ON herald_processed (processed_at_ms);
      ${outbox === undefined ? '' : SQLITE_OUTBOX_SCHEMA}`);
    if (outbox !== undefined) upgradeSqliteOutbox(database);
    statements = {
      // The ids of one (group, source) as a JSON array: one statement for a turn's lookups.
      seenMany: database.prepare(
        `SELECT id, processed_at_ms FROM herald_processed
         WHERE group_name = ? AND source = ? AND id IN (SELECT value FROM json_each(?))`,
      ),
      pruneOld: database.prepare(
        `DELETE FROM herald_processed WHERE (group_name, source, id) IN (SELECT group_name, source, id
         FROM herald_processed WHERE processed_at_ms < ? LIMIT ${PRUNE_BATCH_ROWS})`,
      ),
      count: database.prepare('SELECT count(*) AS total FROM herald_processed'),
      claim: database.prepare(
        'INSERT OR IGNORE INTO herald_processed (group_name, source, id, processed_at_ms) VALUES (?, ?, ?, ?)',
      ),
      pruneOldest: database.prepare(
        `DELETE FROM herald_processed WHERE (group_name, source, id) IN (SELECT group_name, source, id
         FROM herald_processed ORDER BY processed_at_ms LIMIT ?)`,
      ),
    };
    timer = setInterval(prune, options.pruneIntervalMs ?? 60_000);
    timer.unref();
    return statements;
  };

  /** Deletes expired keys, then the oldest beyond `entriesMax`. Exposed to tests through `prune`. */
  const prune = () => {
    if (statements === undefined) return;
    // Bounded batches: each statement deletes at most PRUNE_BATCH_ROWS rows.
    for (let round = 0; round < 100; round++) {
      const result = statements.pruneOld.run(Date.now() - retentionMs);
      if (Number(result.changes) < PRUNE_BATCH_ROWS) break;
    }
    const { total } = statements.count.get() as { total: number };
    if (total > entriesMax) statements.pruneOldest.run(Math.min(total - entriesMax, PRUNE_BATCH_ROWS));
  };

  /**
   * Group commit of `remember`: the keys waiting are written in one transaction by the writer
   * thread (sqlite-remember-writer.ts), so a burst of handled messages costs one fsync (with
   * `synchronous: 'full'`) instead of one each, and none on the event loop. Measured: one INSERT
   * per message on the main thread held the loop for an fsync per message and capped a bus at a
   * few hundred messages a second. The keys of one turn of the event loop go to the writer at
   * once, even while it commits: it then commits every batch waiting in its next transaction, so
   * a key waits at most for the commit running and its own (before, a batch waited for the
   * previous commit's answer to reach this thread first: at 10,000 messages a second under load,
   * a median of 8 ms per key). Each `remember` still resolves only once its key is committed; a
   * failed commit rejects every key in it. The `remember`s of a batch share one promise and cross
   * to the thread as one JSON array of ids per (group, source): no object or promise per key.
   */
  const commitRemembered = (): void => {
    commitScheduled = false;
    if (forming !== undefined) formed.push(forming);
    forming = undefined;
    for (const batch of formed.splice(0)) {
      const keys: KeyBatch = { groups: [], sources: [], ids: [], keys: batch.keys };
      for (const [group, sources] of batch.ids) {
        for (const [source, ids] of sources) {
          keys.groups.push(group);
          keys.sources.push(source);
          keys.ids.push(JSON.stringify(ids));
        }
      }
      const commit: Promise<void> = writer.write(keys, Date.now()).then(
        () => {
          committing.delete(commit);
          batch.resolve();
        },
        (error: unknown) => {
          committing.delete(commit);
          batch.reject(error);
        },
      );
      committing.add(commit);
    }
  };
  /** The batch `remember` adds to: this turn's, or a new one once it holds the most keys. */
  const rememberBatch = (): RememberBatch => {
    if (forming !== undefined && forming.keys < REMEMBER_BATCH_KEYS_MAX) return forming;
    if (forming !== undefined) formed.push(forming);
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((resolved, rejected) => {
      resolve = resolved;
      reject = rejected;
    });
    forming = {
      promise,
      resolve,
      reject,
      ids: new Map(),
      keys: 0,
      lastGroup: undefined,
      lastSource: undefined,
      lastIds: undefined,
    };
    // setImmediate, not a microtask: handlers that finish in the same turn of the event loop (one
    // delivery burst) join one batch.
    if (!commitScheduled) {
      commitScheduled = true;
      setImmediate(commitRemembered);
    }
    return forming;
  };

  /**
   * Answers the `seen`s of one run of microtasks (one delivery burst calls `seen` for each of its
   * messages in the same synchronous run) with one query per (group, source) and at most
   * SEEN_BATCH_KEYS_MAX keys: measured 0.5–0.9 µs of CPU per key against 3–3.5 µs for a query per
   * key (the statement's call, bindings and result object dominated, not the B-tree).
   */
  const lookUp = (): void => {
    const pending = lookups;
    lookups = [];
    // Usually one (group, source) for the whole run: keys are taken in runs of the same pair.
    for (let start = 0; start < pending.length; ) {
      const { group, source } = pending[start]!.key;
      const ids: string[] = [];
      let end = start;
      while (
        end < pending.length &&
        ids.length < SEEN_BATCH_KEYS_MAX &&
        pending[end]!.key.group === group &&
        pending[end]!.key.source === source
      )
        // As Node binds a string (lone surrogates become U+FFFD), so the JSON path stores and finds
        // what `transaction`'s bound parameters do.
        ids.push(pending[end++]!.key.id.toWellFormed());
      let rows: { id: string; processed_at_ms: number }[];
      try {
        rows = open().seenMany.all(group, source, JSON.stringify(ids)) as typeof rows;
      } catch (error) {
        for (let index = start; index < pending.length; index++) pending[index]!.reject(error);
        return;
      }
      // Usually none: most messages are new.
      const found = rows.length === 0 ? undefined : new Map(rows.map((row) => [row.id, row.processed_at_ms]));
      const nowMs = Date.now();
      for (let index = start; index < end; index++) {
        const atMs = found?.get(ids[index - start]!);
        pending[index]!.resolve(atMs !== undefined && nowMs - atMs <= retentionMs);
      }
      start = end;
    }
  };

  return {
    name: 'sqlite',
    seen(key: IdempotencyKey) {
      return new Promise<boolean>((resolve, reject) => {
        open(); // throws (rejects) after close
        if (lookups.length === 0) queueMicrotask(lookUp);
        lookups.push({ key, resolve, reject });
      });
    },
    // See SqliteIdempotencyStore.open. Without it the writer starts on the first `remember`
    // (measured 39 ms, which the first deliveries' handlers waited for).
    async open() {
      open(); // throws (rejects) after close, or when the file cannot be opened
      await writer.ready();
    },
    remember(key: IdempotencyKey) {
      try {
        open(); // throws (rejects) after close, as a direct write would
      } catch (error) {
        return Promise.reject(error);
      }
      const batch = rememberBatch();
      const { group, source } = key;
      if (batch.lastIds !== undefined && batch.lastGroup === group && batch.lastSource === source) {
        batch.lastIds.push(key.id.toWellFormed()); // As in lookUp.
      } else {
        let sources = batch.ids.get(group);
        if (sources === undefined) {
          sources = new Map();
          batch.ids.set(group, sources);
        }
        let ids = sources.get(source);
        if (ids === undefined) {
          ids = [];
          sources.set(source, ids);
        }
        ids.push(key.id.toWellFormed());
        batch.lastGroup = group;
        batch.lastSource = source;
        batch.lastIds = ids;
      }
      batch.keys += 1;
      return batch.promise;
    },
    transaction<T>(key: IdempotencyKey, work: (transaction: unknown) => Promise<T>) {
      return serialize(() =>
        inTransaction(
          work,
          () => Number(open().claim.run(key.group, key.source, key.id, Date.now()).changes) > 0,
        ),
      );
    },
    ...(outbox === undefined ? {} : { outbox }),
    get writerStats() {
      return writer.stats;
    },
    async close() {
      if (closed) return;
      // Keys handed to `remember` before close are committed first (bounded: the bus stops its
      // handlers before it closes the store, so no new keys arrive).
      commitRemembered();
      await Promise.all(committing);
      await transactionTail;
      closed = true;
      await writer.close();
      clearInterval(timer);
      outbox?.close();
      database?.close();
    },
  };
}
