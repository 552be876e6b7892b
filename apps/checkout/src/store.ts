/**
 * A service's own SQLite database: its state tables, Herald's outbox and Herald's dedup records,
 * all in one file so that `context.transaction` commits a handler's writes together with the
 * record that the message was processed (the transactional inbox) and the messages it staged (the
 * transactional outbox): a redelivery after kill -9 never applies a message twice, and a commit
 * is never left without its messages.
 *
 * Every write goes through the one connection Herald's store owns, because its transactions stay
 * open across an `await`: a second writing connection would meet a locked database. Writes that
 * do not come from a message and send nothing (seeding) use {@link ServiceStore.write}, which runs
 * as a transaction of the same store under a local key; those that send use `bus.transaction`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type IdempotencyStore, sqliteIdempotencyStore, uuidv7 } from 'herald';

/** How hard SQLite syncs a commit. */
export type Synchronous = 'full' | 'normal';

/** Options of {@link openServiceStore}. */
export interface ServiceStoreOptions {
  /** Directory of the state files (`<data>/state`). */
  readonly dir: string;
  /** Service name: the file is `<dir>/<name>.sqlite`. */
  readonly name: string;
  /** SQL creating the service's tables (`IF NOT EXISTS`: it runs on every open). */
  readonly schema: string;
  /**
   * `'normal'` (default): a commit survives a process crash (kill -9) but an OS crash may lose
   * the last few; 60× faster here than `'full'`, which fsyncs every commit.
   */
  readonly synchronous?: Synchronous;
}

/** A service's database. */
export interface ServiceStore {
  readonly name: string;
  readonly path: string;
  /** The idempotency store to give the service's bus; its `close` is a no-op (see {@link close}). */
  readonly inbox: IdempotencyStore;
  /** Runs `work` in one write transaction, serialised with the bus's inbox transactions. */
  write<T>(work: (database: DatabaseSync) => T): Promise<T>;
  /** A read-only connection: sees committed data only. */
  readonly read: DatabaseSync;
  /** Messages staged in the store's outbox and not yet published (zero once everything is sent). */
  unsentCount(): number;
  /** Closes both connections. */
  close(): Promise<void>;
}

/** Group name of the dedup keys that {@link ServiceStore.write} consumes (pruned with the rest). */
const LOCAL_WRITE_GROUP = 'checkout.local-write';

/** Opens (creating if needed) the database of one service and applies its schema. */
export async function openServiceStore(options: ServiceStoreOptions): Promise<ServiceStore> {
  mkdirSync(options.dir, { recursive: true });
  const path = join(options.dir, `${options.name}.sqlite`);
  const store = sqliteIdempotencyStore({ path, synchronous: options.synchronous ?? 'normal', outbox: true });
  const transaction = store.transaction!.bind(store);
  const write = async <T>(work: (database: DatabaseSync) => T): Promise<T> => {
    const key = { group: LOCAL_WRITE_GROUP, source: options.name, id: uuidv7() };
    const outcome = await transaction(key, async (database) => work(database as DatabaseSync));
    // A fresh UUIDv7 key is never a duplicate.
    if (outcome.duplicate) throw new Error(`store ${options.name}: local write key reused`);
    return outcome.value;
  };
  await write((database) => database.exec(options.schema));
  const read = new DatabaseSync(path, { readOnly: true });
  // A bus stops its idempotency store; the service restarts on the same database, so only
  // ServiceStore.close really closes it.
  const inbox: IdempotencyStore = {
    name: store.name,
    open: () => store.open(),
    seen: (key) => store.seen(key),
    remember: (key) => store.remember(key),
    transaction: (key, work) => transaction(key, work),
    ...(store.outbox === undefined ? {} : { outbox: store.outbox }),
    close: async () => {},
  };
  return {
    name: options.name,
    path,
    inbox,
    write,
    read,
    unsentCount: () => unsentCount(read),
    async close() {
      read.close();
      await store.close();
    },
  };
}

/** Rows of Herald's outbox in `database` not yet marked sent. */
export function unsentCount(database: DatabaseSync): number {
  const row = database
    .prepare('SELECT count(*) AS total FROM herald_outbox WHERE sent_at_ms IS NULL')
    .get() as {
    total: number;
  };
  return row.total;
}
