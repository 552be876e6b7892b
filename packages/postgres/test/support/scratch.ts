/**
 * Shared helpers of the PostgreSQL tests: a scratch schema per test (dropped afterwards) on the
 * test server (`POSTGRES_URL` of `@herald/test-support`).
 */
import { randomBytes } from 'node:crypto';
import { POSTGRES_URL } from '@herald/test-support';
import pg from 'pg';

/** A schema only one test uses. */
export interface Scratch {
  /** The schema's name, e.g. `herald_test_3f9a0c`. */
  readonly schema: string;
  /** A pool on the test server (ended by `drop`). */
  readonly pool: pg.Pool;
  /** `schema.name`, for table options. */
  table(name: string): string;
  /** Drops the schema with everything in it and ends the pool. */
  drop(): Promise<void>;
}

/** Creates a fresh schema; call `drop()` in a `finally` or `after`. */
export async function scratchSchema(prefix = 'herald_test'): Promise<Scratch> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  await pool.query(`create schema ${schema}`);
  return {
    schema,
    pool,
    table: (name) => `${schema}.${name}`,
    drop: async () => {
      try {
        await pool.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await pool.end();
      }
    },
  };
}

/** Rows of `table` as one number. */
export async function countRows(pool: pg.Pool, table: string, where = 'true'): Promise<number> {
  const result = await pool.query(`select count(*)::int as count from ${table} where ${where}`);
  return result.rows[0].count as number;
}
