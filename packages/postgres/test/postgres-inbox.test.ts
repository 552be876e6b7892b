/**
 * The PostgreSQL inbox against a real server: seen/remember, the transaction's all-or-nothing and
 * duplicate paths, concurrency, schema creation, retention pruning, errors and closing. Every test
 * works in its own schema and drops it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ClosedError,
  ConfigurationError,
  createBus,
  defineEvent,
  memoryTransport,
  silentLogger,
  TransportError,
} from '@herald/bus';
import { eventually, POSTGRES_URL } from '@herald/test-support';
import pg from 'pg';
import { z } from 'zod';
import { INBOX_SCHEMA_SQL, inboxSchemaSql, type PostgresInboxOptions, postgresInbox } from '../src/index.ts';
import { countRows, type Scratch, scratchSchema } from './support/scratch.ts';

const key = (id: string, group = 'ledger') => ({ group, source: '/test/payments', id });
/** An event for buses that need a handler (`bus.start()` opens the inbox only for those). */
const PaymentCaptured = defineEvent('PaymentCaptured', {
  topic: 'payments',
  schema: z.object({ account: z.string() }),
  key: (payment) => payment.account,
});

let scratch: Scratch;
before(async () => {
  scratch = await scratchSchema('herald_inbox_test');
});
after(async () => {
  await scratch.drop();
});

/** An inbox on its own table of the scratch schema, closed by the test. */
function inboxOn(name: string, options: PostgresInboxOptions = {}) {
  return postgresInbox({
    connectionString: POSTGRES_URL,
    table: scratch.table(name),
    pruneIntervalMs: 0,
    logger: silentLogger,
    ...options,
  });
}

describe('postgres inbox - seen and remember', { timeout: 600_000 }, () => {
  test('a remembered key is seen, per group; remembering twice is harmless', async () => {
    const inbox = inboxOn('seen_remember');
    try {
      assert.equal(await inbox.seen(key('1')), false);
      await inbox.remember(key('1'));
      await inbox.remember(key('1'));
      assert.equal(await inbox.seen(key('1')), true);
      assert.equal(await inbox.seen(key('1', 'audit')), false, 'another group processes it separately');
      assert.equal(await inbox.seen({ ...key('1'), source: '/other' }), false, 'ids are unique per source');
      assert.equal(await countRows(scratch.pool, scratch.table('seen_remember')), 1);
    } finally {
      await inbox.close();
    }
  });
});

describe('postgres inbox - transaction', { timeout: 600_000 }, () => {
  const effects = () => scratch.table('effects');
  before(async () => {
    await scratch.pool.query(`create table ${effects()} (id text not null)`);
  });
  const addEffect = (id: string) => async (client: pg.PoolClient) => {
    await client.query(`insert into ${effects()} (id) values ($1)`, [id]);
    return id;
  };

  test('work commits with the key; the same key again is a duplicate and work does not run', async () => {
    const inbox = inboxOn('tx_duplicate');
    try {
      assert.deepEqual(await inbox.transaction(key('a'), addEffect('a')), { duplicate: false, value: 'a' });
      let ran = false;
      const again = await inbox.transaction(key('a'), async () => {
        ran = true;
      });
      assert.deepEqual(again, { duplicate: true });
      assert.equal(ran, false);
      assert.equal(await inbox.seen(key('a')), true);
      assert.equal(await countRows(scratch.pool, effects(), "id = 'a'"), 1);
    } finally {
      await inbox.close();
    }
  });

  test('work throwing rolls back its writes and the key, and rethrows the same error', async () => {
    const inbox = inboxOn('tx_throw');
    try {
      const failure = new Error('payment provider said no');
      await assert.rejects(
        inbox.transaction(key('b'), async (client) => {
          await addEffect('b')(client);
          throw failure;
        }),
        (error) => error === failure,
      );
      assert.equal(await inbox.seen(key('b')), false);
      assert.equal(await countRows(scratch.pool, effects(), "id = 'b'"), 0);
      assert.deepEqual(await inbox.transaction(key('b'), addEffect('b')), { duplicate: false, value: 'b' });
      assert.equal(await countRows(scratch.pool, effects(), "id = 'b'"), 1);
    } finally {
      await inbox.close();
    }
  });

  test('a failed statement whose error work swallowed fails the commit instead of losing the message', async () => {
    const inbox = inboxOn('tx_swallowed');
    try {
      await assert.rejects(
        inbox.transaction(key('c'), async (client) => {
          await addEffect('c')(client);
          await client.query('select 1 / 0').catch(() => {});
        }),
        (error) =>
          error instanceof TransportError && error.retriable && /was rolled back/.test(error.message),
      );
      assert.equal(await inbox.seen(key('c')), false);
      assert.equal(await countRows(scratch.pool, effects(), "id = 'c'"), 0);
    } finally {
      await inbox.close();
    }
  });

  test('the same key in concurrent transactions is applied once', async () => {
    const inbox = inboxOn('tx_concurrent', { poolSizeMax: 8 });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, () =>
          inbox.transaction(key('d'), async (client) => {
            await addEffect('d')(client);
            // Hold the transaction open so the others wait on the key's row lock.
            await client.query('select pg_sleep(0.05)');
          }),
        ),
      );
      assert.equal(outcomes.filter((outcome) => !outcome.duplicate).length, 1);
      assert.equal(await countRows(scratch.pool, effects(), "id = 'd'"), 1);
    } finally {
      await inbox.close();
    }
  });

  test('a deadlock between two handlers rejects one with a retriable TransportError', async () => {
    const accounts = scratch.table('deadlock_accounts');
    await scratch.pool.query(`create table ${accounts} (id int primary key, balance int not null)`);
    await scratch.pool.query(`insert into ${accounts} values (1, 0), (2, 0)`);
    const inbox = inboxOn('tx_deadlock', { poolSizeMax: 4 });
    try {
      let bothLocked: () => void = () => {};
      let lockedCount = 0;
      const barrier = new Promise<void>((resolve) => {
        bothLocked = resolve;
      });
      const transfer = (id: string, first: number, second: number) =>
        inbox.transaction(key(id), async (client) => {
          await client.query("set local deadlock_timeout = '20ms'");
          await client.query(`update ${accounts} set balance = balance + 1 where id = $1`, [first]);
          lockedCount += 1;
          if (lockedCount === 2) bothLocked();
          await barrier;
          await client.query(`update ${accounts} set balance = balance + 1 where id = $1`, [second]);
        });
      const results = await Promise.allSettled([transfer('e1', 1, 2), transfer('e2', 2, 1)]);
      const rejected = results.filter((result) => result.status === 'rejected');
      assert.equal(rejected.length, 1, 'PostgreSQL aborts exactly one side of the deadlock');
      const error = (rejected[0] as PromiseRejectedResult).reason;
      assert.ok(error instanceof TransportError, String(error));
      assert.equal(error.retriable, true);
      assert.match(error.message, /deadlock detected.*retried/);
      assert.equal((error.cause as { code?: string }).code, '40P01');
      assert.equal(
        await countRows(scratch.pool, scratch.table('tx_deadlock')),
        1,
        'only the winner recorded',
      );
    } finally {
      await inbox.close();
    }
  });
});

describe('postgres inbox - schema', { timeout: 600_000 }, () => {
  test('many inboxes creating one table at once all succeed', async () => {
    const inboxes = Array.from({ length: 6 }, () => inboxOn('schema_race'));
    try {
      await Promise.all(inboxes.map((inbox) => inbox.ensureSchema()));
      await Promise.all(inboxes.map((inbox, index) => inbox.remember(key(String(index)))));
      assert.equal(await countRows(scratch.pool, scratch.table('schema_race')), 6);
    } finally {
      await Promise.all(inboxes.map((inbox) => inbox.close()));
    }
  });

  test('the exported schema is the one the inbox creates, and runs twice without error', async () => {
    assert.match(INBOX_SCHEMA_SQL, /create table if not exists "herald_inbox"/);
    const sql = inboxSchemaSql(scratch.table('migrated'));
    await scratch.pool.query(sql);
    await scratch.pool.query(sql);
    const inbox = inboxOn('migrated', { createSchema: false });
    try {
      await inbox.remember(key('m'));
      assert.equal(await inbox.seen(key('m')), true);
    } finally {
      await inbox.close();
    }
  });

  test('bus.start() opens the inbox: the table exists before the first message', async () => {
    const inbox = inboxOn('opened_at_start');
    const bus = createBus({ transport: memoryTransport(), idempotency: inbox, logger: silentLogger });
    bus.on(PaymentCaptured, { group: 'ledger' }, () => {});
    try {
      await bus.start();
      const { rows } = await scratch.pool.query('select to_regclass($1) is not null as exists', [
        scratch.table('opened_at_start'),
      ]);
      assert.equal(rows[0].exists, true, 'bus.start() resolved before the inbox created its table');
    } finally {
      await bus.stop(); // closes the inbox
    }
    await assert.rejects(inbox.open(), ClosedError);
  });

  test('createSchema false and no table: a ConfigurationError that points at inboxSchemaSql', async () => {
    const inbox = inboxOn('never_created', { createSchema: false });
    try {
      await assert.rejects(
        inbox.seen(key('x')),
        (error) => error instanceof ConfigurationError && /inboxSchemaSql\(/.test(error.message),
      );
    } finally {
      await inbox.close();
    }
  });
});

describe('postgres inbox - retention', { timeout: 600_000 }, () => {
  /** Ages every row of `table` whose id is in `ids` by `ageMs`. */
  const age = (table: string, ids: string[], ageMs: number) =>
    scratch.pool.query(
      `update ${scratch.table(table)} set processed_at = now() - $1 * interval '1 millisecond' where id = any($2)`,
      [ageMs, ids],
    );

  test('prune deletes rows older than retentionMs in bounded batches and keeps the rest', async () => {
    const inbox = inboxOn('retention', { retentionMs: 60_000, pruneBatchRows: 3 });
    try {
      const old = Array.from({ length: 10 }, (_, index) => `old-${index}`);
      for (const id of [...old, 'fresh']) await inbox.remember(key(id));
      await age('retention', old, 61_000);
      await age('retention', ['fresh'], 59_000);
      assert.equal(await inbox.prune(), 10);
      assert.equal(await inbox.seen(key('old-0')), false, 'outside the window: forgotten');
      assert.equal(await inbox.seen(key('fresh')), true, 'inside the window: remembered');
      assert.equal(await inbox.prune(), 0);
    } finally {
      await inbox.close();
    }
  });

  test('entriesMax keeps only the newest rows', async () => {
    const inbox = inboxOn('max_entries', { entriesMax: 3, pruneBatchRows: 2 });
    try {
      const ids = ['1', '2', '3', '4', '5'];
      for (const id of ids) await inbox.remember(key(id));
      // Distinct ages, oldest first: 1 is the oldest.
      for (const [index, id] of ids.entries()) await age('max_entries', [id], (ids.length - index) * 1000);
      assert.equal(await inbox.prune(), 2);
      const seen = await Promise.all(ids.map((id) => inbox.seen(key(id))));
      assert.deepEqual(seen, [false, false, true, true, true]);
    } finally {
      await inbox.close();
    }
  });

  test('the background prune runs every pruneIntervalMs', async () => {
    const inbox = inboxOn('background', { retentionMs: 1000, pruneIntervalMs: 20 });
    try {
      await inbox.remember(key('expired'));
      await inbox.remember(key('kept'));
      await age('background', ['expired'], 5000);
      await eventually(async () => !(await inbox.seen(key('expired'))), 'the background prune');
      assert.equal(await inbox.seen(key('kept')), true);
    } finally {
      await inbox.close();
    }
  });
});

describe('postgres inbox - errors and closing', { timeout: 600_000 }, () => {
  test('no server at the address: a retriable TransportError asking whether PostgreSQL runs there', async () => {
    // Port 1 is privileged and unused here, so the connection is refused at once.
    const inbox = postgresInbox({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      pruneIntervalMs: 0,
    });
    try {
      await assert.rejects(
        inbox.seen(key('x')),
        (error) =>
          error instanceof TransportError &&
          error.retriable &&
          error.message.includes('is PostgreSQL running at 127.0.0.1:1?'),
      );
    } finally {
      await inbox.close();
    }
  });

  test('a missing database is a ConfigurationError naming it', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/herald_no_such_database';
    const inbox = postgresInbox({ connectionString: url.toString(), pruneIntervalMs: 0 });
    try {
      await assert.rejects(
        inbox.seen(key('x')),
        (error) =>
          error instanceof ConfigurationError && /herald_no_such_database.*createdb/.test(error.message),
      );
    } finally {
      await inbox.close();
    }
  });

  test('bus.start() on a missing database fails with that ConfigurationError, before any delivery', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/herald_no_such_database';
    const inbox = postgresInbox({ connectionString: url.toString(), pruneIntervalMs: 0 });
    const bus = createBus({ transport: memoryTransport(), idempotency: inbox, logger: silentLogger });
    bus.on(PaymentCaptured, { group: 'ledger' }, () => {});
    try {
      await assert.rejects(
        bus.start(),
        (error) =>
          error instanceof ConfigurationError && /herald_no_such_database.*createdb/.test(error.message),
      );
      assert.equal(bus.health().state, 'stopped');
    } finally {
      await bus.stop();
    }
  });

  test('bad options are ConfigurationErrors at creation', () => {
    const bad: PostgresInboxOptions[] = [
      { table: 'Robert"); drop table students; --' },
      { table: 'a.b.c' },
      { retentionMs: 0 },
      { entriesMax: 0 },
      { pruneBatchRows: 1_000_000 },
      { statementTimeoutMs: -1 },
      { poolSizeMax: 0 },
      { pool: new pg.Pool(), connectionString: POSTGRES_URL },
    ];
    for (const options of bad) {
      assert.throws(() => postgresInbox(options), ConfigurationError, JSON.stringify(options));
    }
  });

  test('close is idempotent, rejects later use, and never ends a pool it was given', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    try {
      const inbox = postgresInbox({ pool, table: scratch.table('closing'), pruneIntervalMs: 0 });
      await inbox.remember(key('1'));
      await Promise.all([inbox.close(), inbox.close()]);
      await assert.rejects(inbox.seen(key('1')), ClosedError);
      await assert.rejects(
        inbox.transaction(key('2'), async () => {}),
        ClosedError,
      );
      assert.equal((await pool.query('select 1 as one')).rows[0].one, 1, 'the caller still owns the pool');
    } finally {
      await pool.end();
    }
  });
});
