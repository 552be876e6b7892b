/**
 * The two projection targets: SQLite (`node:sqlite`, a `DatabaseSync` you open) and PostgreSQL (a
 * `pg` pool). Each keeps checkpoints in a table `herald_projections` next to the read model.
 */
import type { DatabaseSync } from 'node:sqlite';
import type pg from 'pg';
import type { ProjectionTarget } from './projection.ts';

/** Name of the checkpoint table in the read model's database. */
export const PROJECTION_CHECKPOINT_TABLE = 'herald_projections';

const CHECKPOINT_DDL = `create table if not exists ${PROJECTION_CHECKPOINT_TABLE} (name text primary key, position text not null)`;

/** Options of {@link sqliteProjectionTarget}. */
export interface SqliteProjectionTargetOptions {
  /**
   * Runs one write transaction on the database where something else owns the writes, e.g.
   * `bus.transaction` of a bus on `sqliteIdempotencyStore({ path, outbox: true })`, whose one
   * connection holds transactions across `await`s (a second writing connection would find the
   * file locked). Default: `BEGIN IMMEDIATE` … `COMMIT` on `db`, serialised by the target.
   */
  readonly transaction?: <T>(work: (tx: DatabaseSync) => Promise<T>) => Promise<T>;
}

/**
 * A projection target on SQLite. `apply` gets the `DatabaseSync` itself; the target serialises
 * transactions on it, so do not write to the database elsewhere while projections run (or pass
 * `options.transaction`, and the owner of the writes serialises them).
 */
export function sqliteProjectionTarget(
  db: DatabaseSync,
  options: SqliteProjectionTargetOptions = {},
): ProjectionTarget<DatabaseSync> {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    name: 'sqlite',
    transaction<T>(work: (tx: DatabaseSync) => Promise<T>): Promise<T> {
      if (options.transaction !== undefined) return options.transaction(work);
      const run = async (): Promise<T> => {
        db.exec('begin immediate');
        try {
          const value = await work(db);
          db.exec('commit');
          return value;
        } catch (error) {
          if (db.isTransaction) db.exec('rollback');
          throw error;
        }
      };
      const result = queue.then(run, run);
      queue = result.catch(() => {});
      return result;
    },
    async ensureCheckpoints(tx) {
      tx.exec(CHECKPOINT_DDL);
    },
    async loadCheckpoint(tx, name) {
      const row = tx
        .prepare(`select position from ${PROJECTION_CHECKPOINT_TABLE} where name = ?`)
        .get(name) as { position: string } | undefined;
      return row === undefined ? undefined : BigInt(row.position);
    },
    async saveCheckpoint(tx, name, position) {
      if (position === undefined) {
        tx.prepare(`delete from ${PROJECTION_CHECKPOINT_TABLE} where name = ?`).run(name);
        return;
      }
      tx.prepare(
        `insert into ${PROJECTION_CHECKPOINT_TABLE} (name, position) values (?, ?) on conflict (name) do update set position = excluded.position`,
      ).run(name, position.toString());
    },
  };
}

/** A projection target on PostgreSQL: `apply` gets the transaction's `pg` client. The pool stays yours. */
export function postgresProjectionTarget(pool: pg.Pool): ProjectionTarget<pg.PoolClient> {
  return {
    name: 'postgres',
    async transaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('begin');
        try {
          const value = await work(client);
          await client.query('commit');
          return value;
        } catch (error) {
          await client.query('rollback').catch(() => {
            broken = true;
          });
          throw error;
        }
      } finally {
        client.release(broken);
      }
    },
    async ensureCheckpoints(tx) {
      // Serialises concurrent first runs on "create table if not exists".
      await tx.query("select pg_advisory_xact_lock(hashtext('herald_projections'))");
      await tx.query(CHECKPOINT_DDL);
    },
    async loadCheckpoint(tx, name) {
      const result = await tx.query<{ position: string }>(
        `select position from ${PROJECTION_CHECKPOINT_TABLE} where name = $1`,
        [name],
      );
      const row = result.rows[0];
      return row === undefined ? undefined : BigInt(row.position);
    },
    async saveCheckpoint(tx, name, position) {
      if (position === undefined) {
        await tx.query(`delete from ${PROJECTION_CHECKPOINT_TABLE} where name = $1`, [name]);
        return;
      }
      await tx.query(
        `insert into ${PROJECTION_CHECKPOINT_TABLE} (name, position) values ($1, $2) on conflict (name) do update set position = excluded.position`,
        [name, position.toString()],
      );
    },
  };
}
