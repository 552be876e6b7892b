/**
 * The three backends under test, each opened fresh: the embedded log and SQLite in a temporary
 * directory, and PostgreSQL in a scratch schema of the test server (`npm run setup`). `cleanup` closes and removes
 * everything, even after a failure.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineEvent, type EventContract } from '@herald/bus';
import {
  type EventStore,
  openEmbeddedEventStore,
  openPostgresEventStore,
  openSqliteEventStore,
} from '@herald/eventstore';
import { POSTGRES_URL } from '@herald/test-support';
import pg from 'pg';
import { z } from 'zod';

/** A test event: which writer appended it, with the version it expected. */
export const Written = defineEvent('Written', {
  topic: 'test-events',
  schema: z.object({ writer: z.number().int(), expected: z.number().int(), serial: z.number().int() }),
});

/** A fresh store of one backend, and how to remove it. */
export interface OpenedStore {
  readonly store: EventStore;
  /** Reopens the same storage (after `store.close()`). */
  reopen(): Promise<EventStore>;
  /** Closes the store and removes its storage. */
  cleanup(): Promise<void>;
  /** Where the storage is: the directory, or the PostgreSQL pool of the scratch schema. */
  readonly directory?: string;
  readonly pool?: pg.Pool;
  readonly table?: string;
}

/** The backends by name. */
export const BACKENDS = ['embedded', 'postgres', 'sqlite'] as const;

/** Opens a fresh store of `backend`. */
export async function openFresh(
  backend: (typeof BACKENDS)[number],
  contracts: readonly EventContract[] = [Written],
): Promise<OpenedStore> {
  if (backend === 'embedded' || backend === 'sqlite') {
    const directory = await mkdtemp(join(tmpdir(), 'herald-eventstore-'));
    const open = (): Promise<EventStore> =>
      backend === 'sqlite'
        ? openSqliteEventStore({ path: join(directory, 'events.sqlite'), contracts, pollIntervalMs: 5 })
        : openEmbeddedEventStore({ directory, contracts });
    let store = await open();
    return {
      store,
      directory,
      reopen: async () => {
        store = await open();
        return store;
      },
      cleanup: async () => {
        try {
          await store.close();
        } finally {
          await rm(directory, { recursive: true, force: true });
        }
      },
    };
  }
  const schema = `herald_es_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 20 });
  await pool.query(`create schema ${schema}`);
  const table = `${schema}.events`;
  const open = () => openPostgresEventStore({ pool, table, contracts, pollIntervalMs: 10 });
  let store = await open();
  return {
    store,
    pool,
    table,
    reopen: async () => {
      store = await open();
      return store;
    },
    cleanup: async () => {
      try {
        await store.close();
        await pool.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await pool.end();
      }
    },
  };
}
