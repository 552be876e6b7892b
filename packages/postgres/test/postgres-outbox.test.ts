/**
 * The PostgreSQL outbox behind a bus: `tx.publish` in `context.transaction` commits with the
 * handler's rows and goes out after the commit (woken by NOTIFY, not by polling: the fallback
 * interval is a minute here); a rolled-back transaction publishes nothing; several relays on one
 * table keep each key's order and publish every row once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Bus,
  createBus,
  defineEvent,
  type Envelope,
  memoryTransport,
  type OutboxRelayOptions,
  silentLogger,
  type Transport,
} from '@herald/bus';
import { eventually, POSTGRES_URL } from '@herald/test-support';
import type pg from 'pg';
import { z } from 'zod';
import { postgresInbox } from '../src/index.ts';
import { type Scratch, scratchSchema } from './support/scratch.ts';

const Deposited = defineEvent('Deposited', {
  topic: 'deposits',
  schema: z.object({ account: z.string(), amount: z.number().int() }),
  key: (deposit) => deposit.account,
});
const Credited = defineEvent('Credited', {
  topic: 'credits',
  schema: z.object({ account: z.string(), version: z.number().int() }),
  key: (credit) => credit.account,
});
const contracts = [Deposited, Credited];

let scratch: Scratch;
before(async () => {
  scratch = await scratchSchema('herald_outbox');
});
after(async () => {
  await scratch.drop();
});

/** A bus on `transport` whose inbox and outbox live in the scratch schema (tables `<name>_inbox`, `<name>_outbox`). */
function outboxBus(transport: Transport, name: string, relay: OutboxRelayOptions | false): Bus {
  const inbox = postgresInbox({
    connectionString: POSTGRES_URL,
    table: scratch.table(`${name}_inbox`),
    outbox: { table: scratch.table(`${name}_outbox`) },
    logger: silentLogger,
  });
  return createBus({ transport, idempotency: inbox, contracts, logger: silentLogger, outboxRelay: relay });
}

describe('postgres outbox', { timeout: 120_000 }, () => {
  test('postgres outbox - tx.publish in context.transaction goes out after the commit, woken by NOTIFY; a rollback publishes nothing', async () => {
    const transport = memoryTransport();
    await scratch.pool.query(
      `create table ${scratch.table('accounts')} (account text primary key, version int)`,
    );
    // A minute between fallback passes: anything faster than that was woken by the commit.
    const bus = outboxBus(transport, 'handler', { fallbackIntervalMs: 60_000 });
    let rollBackFirst = true;
    bus.on(Deposited, { group: 'ledger' }, async (deposit, context) => {
      await context.transaction<void, pg.PoolClient>(async (tx) => {
        const updated = await tx.query(
          `insert into ${scratch.table('accounts')} values ($1, 1)
           on conflict (account) do update set version = accounts.version + 1 returning version`,
          [deposit.account],
        );
        await tx.publish(Credited, { account: deposit.account, version: updated.rows[0].version });
        if (rollBackFirst) {
          rollBackFirst = false;
          throw new Error('rolled back on purpose');
        }
      });
    });
    const credits: Envelope[] = [];
    bus.on(Credited, { group: 'audit' }, (_credit, context) => {
      credits.push(context.envelope);
    });
    await bus.start();
    try {
      const started = performance.now();
      const deposit = await bus.publish(Deposited, { account: 'a-1', amount: 5 });
      await eventually(() => credits.length === 1, 'the staged credit', 30_000);
      assert.ok(performance.now() - started < 30_000);
      assert.equal(credits[0]!.causationid, deposit.id);
      assert.deepEqual(
        credits[0]!.data,
        { account: 'a-1', version: 1 },
        'the rolled-back attempt left nothing',
      );
      // Outside a handler: the bus's own transaction, and one the caller opened on its own client.
      await bus.transaction<void, pg.PoolClient>(async (tx) => {
        await tx.publish(Credited, { account: 'a-2', version: 1 });
      });
      const client = await scratch.pool.connect();
      try {
        await client.query('begin');
        await bus.outbox(client).publish(Credited, { account: 'phantom', version: 0 });
        await client.query('rollback');
        await client.query('begin');
        await bus.outbox(client).publish(Credited, { account: 'a-3', version: 1 });
        await client.query('commit');
      } finally {
        client.release();
      }
      await eventually(() => credits.length === 3, 'both credits staged outside a handler', 30_000);
      assert.deepEqual(
        credits.map((credit) => (credit.data as { account: string }).account),
        ['a-1', 'a-2', 'a-3'],
      );
      assert.ok(performance.now() - started < 60_000, 'woken by the commit, not by the fallback pass');
    } finally {
      await bus.stop();
    }
  });

  test('postgres outbox - three relays on one table: every row once, per key in commit order', async () => {
    const transport = memoryTransport();
    const stager = outboxBus(transport, 'many', false);
    await stager.start();
    const relays = [0, 1, 2].map(() => outboxBus(transport, 'many', { fallbackIntervalMs: 50 }));
    const received: Envelope[] = [];
    const reader = createBus({ transport, contracts, logger: silentLogger });
    reader.on(Credited, { group: 'reader', concurrency: 16 }, (_credit, context) => {
      received.push(context.envelope);
    });
    await reader.start();
    const total = 600;
    try {
      for (const relay of relays) await relay.start();
      // Writers of one account serialise on its row, as writers of an aggregate do: then each
      // account's versions are its commit order, and the relays must publish them in that order.
      const accounts = scratch.table('many_accounts');
      await scratch.pool.query(`create table ${accounts} (account text primary key, version int not null)`);
      await scratch.pool.query(
        `insert into ${accounts} select 'acct-' || n, 0 from generate_series(0, 9) as n`,
      );
      const writers = Array.from({ length: 8 }, async (_, writer) => {
        for (let index = writer; index < total; index += 8) {
          await stager.transaction<void, pg.PoolClient>(async (tx) => {
            const account = `acct-${index % 10}`;
            const updated = await tx.query(
              `update ${accounts} set version = version + 1 where account = $1 returning version`,
              [account],
            );
            await tx.publish(Credited, { account, version: updated.rows[0].version });
          });
        }
      });
      await Promise.all(writers);
      await eventually(() => received.length >= total, `${total} credits`, 60_000);
      const ids = new Set(received.map((envelope) => envelope.id));
      assert.equal(ids.size, total, 'a row published twice without a crash');
      for (let account = 0; account < 10; account++) {
        const versions = received
          .filter((envelope) => envelope.partitionkey === `acct-${account}`)
          .map((envelope) => (envelope.data as { version: number }).version);
        const commitOrder = Array.from({ length: versions.length }, (_, index) => index + 1);
        assert.deepEqual(versions, commitOrder, `acct-${account}: publish order is not commit order`);
      }
    } finally {
      for (const relay of relays) await relay.stop();
      await reader.stop();
      await stager.stop();
    }
  });
});
