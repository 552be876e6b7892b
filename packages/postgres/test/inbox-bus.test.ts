/**
 * The inbox behind a bus: a message delivered twice has its `context.transaction` effect applied
 * once; a handler failing inside the transaction leaves neither a dedup row nor an effect, and
 * the retry applies it once; without `context.transaction` the store still skips duplicates.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Bus,
  createBus,
  defineEvent,
  type Envelope,
  encodeEnvelope,
  memoryTransport,
  silentLogger,
  uuidv7,
} from '@herald/bus';
import { eventually, POSTGRES_URL } from '@herald/test-support';
import type pg from 'pg';
import { z } from 'zod';
import { type PostgresInbox, postgresInbox } from '../src/index.ts';
import { countRows, type Scratch, scratchSchema } from './support/scratch.ts';

const PaymentCaptured = defineEvent('PaymentCaptured', {
  topic: 'payments',
  schema: z.object({ account: z.string(), amountCents: z.number().int() }),
  key: (payment) => payment.account,
});

let scratch: Scratch;
before(async () => {
  scratch = await scratchSchema('herald_inbox_bus');
});
after(async () => {
  await scratch.drop();
});

/** A PaymentCaptured envelope with a fixed id, as a producer retry would resend it. */
function payment(id: string, amountCents: number): Envelope {
  return {
    specversion: '1.0',
    id,
    source: '/test/checkout',
    type: PaymentCaptured.type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    partitionkey: 'acct-1',
    dataversion: 1,
    extensions: {},
    data: { account: 'acct-1', amountCents },
  };
}

/** A bus on the memory transport with the inbox on table `name`; effects go to `<name>_effects`. */
async function setUp(name: string) {
  const effects = scratch.table(`${name}_effects`);
  await scratch.pool.query(`create table ${effects} (event_id text not null, amount_cents int not null)`);
  const inbox: PostgresInbox = postgresInbox({
    connectionString: POSTGRES_URL,
    table: scratch.table(name),
    pruneIntervalMs: 0,
  });
  const bus: Bus = createBus({
    transport: memoryTransport(),
    idempotency: inbox,
    logger: silentLogger,
    retry: { delayMsInitial: 5, delayMsMax: 20 },
  });
  const applyEffect = (client: pg.PoolClient, id: string, amountCents: number) =>
    client.query(`insert into ${effects} (event_id, amount_cents) values ($1, $2)`, [id, amountCents]);
  return { effects, inbox, bus, applyEffect };
}

/** Publishes the same envelope `times` times straight to the transport, as a redelivery would. */
async function deliver(bus: Bus, envelope: Envelope, times: number): Promise<void> {
  for (let delivery = 0; delivery < times; delivery++) {
    await bus.transport.publish(PaymentCaptured.topic, [encodeEnvelope(envelope)]);
  }
}

describe('postgres inbox - through a bus', { timeout: 600_000 }, () => {
  test('a message delivered twice has its transactional effect applied once', async () => {
    const { effects, inbox, bus, applyEffect } = await setUp('twice');
    try {
      bus.on(PaymentCaptured, { group: 'ledger' }, async (data, context) => {
        await context.transaction((client: pg.PoolClient) =>
          applyEffect(client, context.envelope.id, data.amountCents),
        );
      });
      await bus.start();
      const id = uuidv7();
      await deliver(bus, payment(id, 500), 2);
      // A skipped duplicate is a successful run too: `handled` counts every settled delivery.
      await eventually(() => bus.stats().handled === 2, 'both deliveries');
      assert.equal(await countRows(scratch.pool, effects, `event_id = '${id}'`), 1);
      assert.equal(bus.stats().duplicatesSkipped, 1);
      assert.equal(await inbox.seen({ group: 'ledger', source: '/test/checkout', id }), true);
    } finally {
      await bus.stop();
    }
  });

  test('a handler failing inside context.transaction leaves no dedup row and no effect; the retry applies it once', async () => {
    const { effects, bus, applyEffect } = await setUp('failing');
    const id = uuidv7();
    const key = { group: 'ledger', source: '/test/checkout', id };
    const observed: { attempt: number; dedupRows: number; effectRows: number }[] = [];
    // A separate, plain inbox reads the table, so the bus's store is not involved in checking.
    const reader = postgresInbox({
      connectionString: POSTGRES_URL,
      table: scratch.table('failing'),
      pruneIntervalMs: 0,
    });
    try {
      bus.on(PaymentCaptured, { group: 'ledger' }, async (data, context) => {
        // State at the start of each attempt: what the previous failed attempt left behind.
        observed.push({
          attempt: context.attempt,
          dedupRows: (await reader.seen(key)) ? 1 : 0,
          effectRows: await countRows(scratch.pool, effects, `event_id = '${id}'`),
        });
        await context.transaction(async (client: pg.PoolClient) => {
          await applyEffect(client, id, data.amountCents);
          if (context.attempt === 1) throw new Error('ledger service briefly unavailable');
        });
      });
      await bus.start();
      await deliver(bus, payment(id, 700), 1);
      await eventually(() => bus.stats().handled === 1, 'the retry to succeed');
      assert.deepEqual(observed, [
        { attempt: 1, dedupRows: 0, effectRows: 0 },
        { attempt: 2, dedupRows: 0, effectRows: 0 },
      ]);
      assert.equal(bus.stats().failed, 1);
      assert.equal(await countRows(scratch.pool, effects, `event_id = '${id}'`), 1);
      assert.equal(await reader.seen(key), true);
      await deliver(bus, payment(id, 700), 1);
      await eventually(() => bus.stats().duplicatesSkipped === 1, 'the redelivery to be skipped');
      assert.equal(await countRows(scratch.pool, effects, `event_id = '${id}'`), 1);
    } finally {
      await bus.stop();
      await reader.close();
    }
  });

  test('without context.transaction the inbox still skips a message the group processed', async () => {
    const { bus } = await setUp('remember');
    let runs = 0;
    try {
      bus.on(PaymentCaptured, { group: 'ledger' }, async () => {
        runs += 1;
      });
      await bus.start();
      await deliver(bus, payment(uuidv7(), 100), 3);
      await eventually(() => bus.stats().handled === 3, 'three deliveries');
      assert.equal(runs, 1);
      assert.equal(bus.stats().duplicatesSkipped, 2);
    } finally {
      await bus.stop();
    }
  });
});
