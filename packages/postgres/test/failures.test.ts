/**
 * The server-side failures the README promises to turn into retriable TransportErrors, each made
 * to happen on the real server: a statement timeout, a serialization failure (40001) under
 * `serializable`, and the connection killed mid-transaction (`pg_terminate_backend` from a second
 * connection). Each leaves neither the key nor the effect, and the inbox keeps working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger, TransportError } from '@herald/bus';
import { eventually, POSTGRES_URL } from '@herald/test-support';
import { type PostgresInboxOptions, postgresInbox } from '../src/index.ts';
import { countRows, type Scratch, scratchSchema } from './support/scratch.ts';

const key = (id: string) => ({ group: 'ledger', source: '/test/failures', id });

let scratch: Scratch;
before(async () => {
  scratch = await scratchSchema('herald_inbox_failures');
});
after(async () => {
  await scratch.drop();
});

function inboxOn(name: string, options: PostgresInboxOptions = {}) {
  return postgresInbox({
    connectionString: POSTGRES_URL,
    table: scratch.table(name),
    pruneIntervalMs: 0,
    logger: silentLogger,
    ...options,
  });
}

/** Asserts `error` is a retriable TransportError whose cause has SQLSTATE `code` (when given). */
function assertRetriable(error: unknown, message: RegExp, code?: string): true {
  assert.ok(error instanceof TransportError, String(error));
  assert.equal(error.retriable, true);
  assert.match(error.message, message);
  if (code !== undefined) assert.equal((error.cause as { code?: string }).code, code);
  return true;
}

describe('postgres inbox - server failures', { timeout: 120_000 }, () => {
  test('a statement over statementTimeoutMs is cancelled: retriable, rolled back', async () => {
    const effects = scratch.table('timeout_effects');
    await scratch.pool.query(`create table ${effects} (id text)`);
    const inbox = inboxOn('tx_timeout', { statementTimeoutMs: 200 });
    try {
      const startedMs = performance.now();
      await assert.rejects(
        inbox.transaction(key('slow'), async (client) => {
          await client.query(`insert into ${effects} values ('slow')`);
          await client.query('select pg_sleep(10)');
        }),
        (error) => assertRetriable(error, /statement timeout.*raise statementTimeoutMs/, '57014'),
      );
      const elapsedMs = performance.now() - startedMs;
      assert.ok(
        elapsedMs < 5_000,
        `cancelled by the timeout, not after the sleep (${Math.round(elapsedMs)} ms)`,
      );
      assert.equal(await countRows(scratch.pool, effects), 0, 'the effect was rolled back');
      assert.equal(await inbox.seen(key('slow')), false, 'the key was rolled back');
      // The retry (a faster statement) goes through on the same inbox.
      const retried = await inbox.transaction(key('slow'), async (client) => {
        await client.query(`insert into ${effects} values ('slow')`);
        return 'done';
      });
      assert.deepEqual(retried, { duplicate: false, value: 'done' });
    } finally {
      await inbox.close();
    }
  });

  test('waiting longer than connectionTimeoutMs for a pooled connection is retriable', async () => {
    const inbox = inboxOn('tx_pool', { poolSizeMax: 1, connectionTimeoutMs: 500 });
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    try {
      // The only connection stays in a transaction until the second one gave up waiting.
      const holding = inbox.transaction(key('holding'), async () => {
        entered.resolve();
        await release.promise;
      });
      await entered.promise;
      const startedMs = performance.now();
      await assert.rejects(
        inbox.transaction(key('waiting'), async () => 'never'),
        (error) => assertRetriable(error, /no connection .* within connectionTimeoutMs.*raise poolSizeMax/),
      );
      const waitedMs = performance.now() - startedMs;
      assert.ok(
        waitedMs >= 400 && waitedMs < 5_000,
        `gave up after connectionTimeoutMs (${Math.round(waitedMs)} ms)`,
      );
      release.resolve();
      assert.deepEqual(await holding, { duplicate: false, value: undefined });
      assert.equal(await inbox.seen(key('waiting')), false);
    } finally {
      release.resolve();
      await inbox.close();
    }
  });

  test('a handler idle in its transaction past 60 s loses it (idle_in_transaction_session_timeout): retriable, rolled back', {
    timeout: 120_000,
  }, async () => {
    const effects = scratch.table('idle_effects');
    await scratch.pool.query(`create table ${effects} (id text)`);
    // statementTimeoutMs 30 s (the default) gives the floor: max(60 s, 2 x 30 s) = 60 s.
    const inbox = inboxOn('tx_idle', { statementTimeoutMs: 30_000 });
    try {
      const startedMs = performance.now();
      await assert.rejects(
        inbox.transaction(key('idle'), async (client) => {
          await client.query(`insert into ${effects} values ('idle')`);
          const { rows } = await client.query('select pg_backend_pid() as pid');
          const pid = (rows[0] as { pid: number }).pid;
          // Stuck between statements: the server ends the session once the timeout passes.
          await eventually(
            async () =>
              (await scratch.pool.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount ===
              0,
            'the server to end the idle transaction',
            90_000,
            250,
          );
          await client.query(`insert into ${effects} values ('too late')`);
        }),
        (error) => assertRetriable(error, /lost the connection/),
      );
      const idleMs = performance.now() - startedMs;
      assert.ok(idleMs >= 59_000, `ended after the 60 s floor (${Math.round(idleMs)} ms)`);
      assert.equal(await countRows(scratch.pool, effects), 0, 'the effect was rolled back');
      assert.equal(await inbox.seen(key('idle')), false, 'the key was rolled back');
    } finally {
      await inbox.close();
    }
  });

  test('a serialization failure (40001) under serializable is retriable and rolled back', async () => {
    // Write skew: each transaction reads both rows, then updates a different one. Serializable
    // isolation lets only one of them commit.
    const shifts = scratch.table('shifts');
    await scratch.pool.query(`create table ${shifts} (doctor text primary key, on_call boolean not null)`);
    await scratch.pool.query(`insert into ${shifts} values ('alice', true), ('bob', true)`);
    const inbox = inboxOn('tx_serializable', { isolationLevel: 'serializable', poolSizeMax: 4 });
    try {
      let read = 0;
      const bothRead = Promise.withResolvers<void>();
      const leave = (id: string, doctor: string) =>
        inbox.transaction(key(id), async (client) => {
          const { rows } = await client.query(`select count(*)::int as n from ${shifts} where on_call`);
          read += 1;
          if (read === 2) bothRead.resolve();
          await bothRead.promise;
          if ((rows[0] as { n: number }).n >= 2) {
            await client.query(`update ${shifts} set on_call = false where doctor = $1`, [doctor]);
          }
        });
      const results = await Promise.allSettled([leave('alice-off', 'alice'), leave('bob-off', 'bob')]);
      const rejected = results.filter((result) => result.status === 'rejected');
      assert.equal(rejected.length, 1, 'exactly one side of the write skew is refused');
      assertRetriable(
        (rejected[0] as PromiseRejectedResult).reason,
        /serialization failure.*retried/,
        '40001',
      );
      const { rows } = await scratch.pool.query(`select count(*)::int as n from ${shifts} where on_call`);
      assert.equal(rows[0].n, 1, 'one doctor stays on call: the loser changed nothing');
      assert.equal(
        await countRows(scratch.pool, scratch.table('tx_serializable')),
        1,
        'only the winner recorded',
      );
    } finally {
      await inbox.close();
    }
  });

  test('the connection killed mid-transaction (pg_terminate_backend): retriable, nothing kept, the inbox recovers', async () => {
    const effects = scratch.table('terminated_effects');
    await scratch.pool.query(`create table ${effects} (id text)`);
    const inbox = inboxOn('tx_terminated', { poolSizeMax: 2 });
    try {
      await assert.rejects(
        inbox.transaction(key('killed'), async (client) => {
          await client.query(`insert into ${effects} values ('killed')`);
          const { rows } = await client.query('select pg_backend_pid() as pid');
          const pid = (rows[0] as { pid: number }).pid;
          const killed = await scratch.pool.query('select pg_terminate_backend($1) as ok', [pid]);
          assert.equal(killed.rows[0].ok, true, 'the second connection terminated the backend');
          await eventually(
            async () =>
              (await scratch.pool.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount ===
              0,
            'the terminated backend to be gone',
          );
          await client.query(`insert into ${effects} values ('after the kill')`);
        }),
        (error) =>
          assertRetriable(error, /lost the connection.*terminating connection due to administrator command/),
      );
      assert.equal(await countRows(scratch.pool, effects), 0, 'the effect was rolled back');
      assert.equal(await inbox.seen(key('killed')), false, 'the key was rolled back');
      const retried = await inbox.transaction(key('killed'), async (client) => {
        await client.query(`insert into ${effects} values ('killed')`);
        return 'done';
      });
      assert.deepEqual(retried, { duplicate: false, value: 'done' }, 'the retry runs on a fresh connection');
      assert.equal(await countRows(scratch.pool, effects), 1);
    } finally {
      await inbox.close();
    }
  });
});
