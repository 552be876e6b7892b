/**
 * What only the SQLite event store does (its shared contract runs in event-store.test.ts and
 * projection.test.ts): appends and reads inside a transaction someone else holds, which commit or
 * roll back with it, and a decider run there.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { ConfigurationError } from '@herald/bus';
import { decider, event, handleCommand, openSqliteEventStore } from '@herald/eventstore';
import { ownedTemporaryDirectory } from '@herald/test-support';
import { Written } from './support/backends.ts';

const directory = await ownedTemporaryDirectory('herald-sqlite-events-');
after(() => directory[Symbol.asyncDispose]());

/** Runs `work` in a transaction of `database`, as the bus's SQLite store does. */
async function inTransaction<T>(database: DatabaseSync, work: (tx: DatabaseSync) => Promise<T>): Promise<T> {
  database.exec('BEGIN IMMEDIATE');
  try {
    const value = await work(database);
    database.exec('COMMIT');
    return value;
  } catch (error) {
    database.exec('ROLLBACK');
    throw error;
  }
}

describe('sqlite event store', { timeout: 30_000 }, () => {
  it('sqlite event store - within(tx): appends commit and roll back with the caller, a decider runs in it', async () => {
    const path = join(directory.directory, 'within.sqlite');
    const store = await openSqliteEventStore({ path, contracts: [Written] });
    const database = new DatabaseSync(path, { timeout: 5000 });
    try {
      database.exec('CREATE TABLE business (id TEXT)');
      await assert.rejects(
        inTransaction(database, async (tx) => {
          tx.prepare("INSERT INTO business VALUES ('a')").run();
          await store
            .within(tx)
            .appendToStream('w-1', [event(Written, { writer: 1, expected: 0, serial: 0 })]);
          assert.equal(await store.within(tx).streamVersion('w-1'), 1, 'the transaction sees its own append');
          assert.equal(await store.streamVersion('w-1'), 0, 'others do not, before the commit');
          throw new Error('the caller gives up');
        }),
        /the caller gives up/,
      );
      assert.equal(await store.streamVersion('w-1'), 0, 'rolled back with the business row');
      const counter = decider<{ serial: number }, { count: number }>({
        initialState: () => ({ count: 0 }),
        evolve: (state) => ({ count: state.count + 1 }),
        decide: (command, state) => [
          event(Written, { writer: 2, expected: state.count, serial: command.serial }),
        ],
      });
      for (const serial of [0, 1]) {
        await inTransaction(database, async (tx) => {
          tx.prepare("INSERT INTO business VALUES ('b')").run();
          return handleCommand(store.within(tx), 'w-2', counter, { serial });
        });
      }
      const events = await store.readStream('w-2');
      assert.deepEqual(
        events.map((e) => [e.version, (e.data as { expected: number }).expected]),
        [
          [1, 0],
          [2, 1],
        ],
      );
      assert.deepEqual(
        database
          .prepare('SELECT id FROM business')
          .all()
          .map((row) => row.id),
        ['b', 'b'],
      );
      assert.throws(() => store.within(database), ConfigurationError, 'no transaction open');
    } finally {
      database.close();
      await store.close();
    }
  });
});
