import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { eventually, ownedTemporaryDirectory } from '@herald/test-support';
import {
  type BusMetrics,
  ConfigurationError,
  createBus,
  defineCommand,
  defineEvent,
  type Envelope,
  memoryTransport,
  prometheusMetrics,
  sqliteIdempotencyStore,
} from 'herald';
import { z } from 'zod';

const directory = await ownedTemporaryDirectory('herald-sqlite-outbox-');
after(() => directory[Symbol.asyncDispose]());

const Deposited = defineEvent('Deposited', {
  topic: 'deposits',
  schema: z.object({ account: z.string(), amount: z.number() }),
  key: (deposit) => deposit.account,
});
const Credited = defineEvent('Credited', {
  topic: 'credits',
  schema: z.object({ account: z.string(), amount: z.number() }),
  key: (credit) => credit.account,
});
const Notify = defineCommand('Notify', { topic: 'notify', schema: z.object({ account: z.string() }) });
const contracts = [Deposited, Credited, Notify];

describe('sqlite outbox', { timeout: 120_000 }, () => {
  it('sqlite outbox - tx.publish inside context.transaction commits with the business row and goes out after the commit, caused by the message', async () => {
    const path = join(directory.directory, 'handler.sqlite');
    const transport = memoryTransport();
    const store = sqliteIdempotencyStore({ path, outbox: true });
    const bus = createBus({ transport, idempotency: store, contracts });
    const credits: Envelope[] = [];
    const notified: string[] = [];
    let failNext = true;
    bus.on(Deposited, { group: 'ledger' }, async (deposit, context) => {
      await context.transaction<void, DatabaseSync>(async (tx) => {
        tx.exec('CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, amount INTEGER)');
        tx.prepare('INSERT INTO balances VALUES (?, ?)').run(deposit.account, deposit.amount);
        await tx.publish(Credited, { account: deposit.account, amount: deposit.amount });
        await tx.send(Notify, { account: deposit.account });
        // The first attempt rolls back after staging: its messages must never go out.
        if (failNext) {
          failNext = false;
          throw new Error('rolled back on purpose');
        }
      });
    });
    bus.on(Credited, { group: 'audit' }, (_credit, context) => {
      credits.push(context.envelope);
    });
    bus.handle(Notify, (command) => {
      notified.push(command.account);
    });
    await bus.start();
    try {
      const deposit = await bus.publish(Deposited, { account: 'a-1', amount: 5 });
      await eventually(() => credits.length === 1 && notified.length === 1, 'the staged event and command');
      const credit = credits[0]!;
      assert.equal(credit.causationid, deposit.id, 'caused by the handled message');
      assert.equal(credit.correlationid, deposit.correlationid ?? deposit.id);
      assert.equal(credit.partitionkey, 'a-1');
      await eventually(async () => (await store.outbox!.lag()).unsentCount === 0, 'rows marked sent');
      // Give a stray phantom copy time to show: still exactly one of each.
      await bus.publish(Deposited, { account: 'a-2', amount: 1 });
      await eventually(() => credits.length === 2, 'the second credit');
      assert.deepEqual(notified, ['a-1', 'a-2']);
    } finally {
      await bus.stop();
    }
  });

  it('sqlite outbox - bus.transaction outside a handler: per key in staging order, sequence extension, republished with the same id after a crash', async () => {
    const path = join(directory.directory, 'outside.sqlite');
    const transport = memoryTransport();
    // A first bus that only stages (its relay is off): the rows stay, like after a kill -9.
    const staging = createBus({
      transport,
      source: '/test/stager',
      idempotency: sqliteIdempotencyStore({ path, outbox: true }),
      contracts,
      outboxRelay: false,
    });
    await staging.start();
    const ids: string[] = [];
    for (let index = 0; index < 20; index++) {
      await staging.transaction<void, DatabaseSync>(async (tx) => {
        const id = `dep-${index}`;
        ids.push(id);
        await tx.publish(Deposited, { account: `acct-${index % 3}`, amount: index }, { id });
      });
    }
    await assert.rejects(
      staging.transaction(async (tx) => {
        await tx.publish(Deposited, { account: 'phantom', amount: -1 });
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    await staging.stop();

    const lags: number[] = [];
    const metrics = {
      published() {},
      publishFailed() {},
      handlerStarted() {},
      handlerEnded() {},
      retried() {},
      deadLettered() {},
      outboxLag: (_source: string, unsentCount: number) => lags.push(unsentCount),
    } satisfies BusMetrics;
    const store = sqliteIdempotencyStore({ path, outbox: true });
    const relaying = createBus({
      transport: memoryTransport(),
      source: '/test/relay',
      idempotency: store,
      contracts,
      metrics,
      outboxRelay: {
        sequenceExtension: 'seq',
        fallbackIntervalMs: 20,
        retentionMs: 0,
        pruneIntervalMs: 1000,
      },
    });
    const received: Envelope[] = [];
    relaying.on(Deposited, { group: 'reader' }, (_deposit, context) => {
      received.push(context.envelope);
    });
    await relaying.start();
    try {
      await eventually(() => received.length === 20, 'every staged row published');
      assert.deepEqual(
        received.map((envelope) => envelope.id).sort(),
        [...ids].sort(),
        'ids kept, no phantom',
      );
      // The staging bus's source, not the relaying one's: consumers deduplicate by (source, id).
      assert.deepEqual(new Set(received.map((envelope) => envelope.source)), new Set(['/test/stager']));
      for (const account of ['acct-0', 'acct-1', 'acct-2']) {
        const seqs = received
          .filter((envelope) => envelope.partitionkey === account)
          .map((envelope) => Number(envelope.extensions.seq));
        assert.deepEqual(
          seqs,
          [...seqs].sort((left, right) => left - right),
          `${account} out of order`,
        );
      }
      await eventually(() => lags.includes(0), 'the lag metric reports an empty outbox');
      // retentionMs 0: the sent rows are pruned at the next prune (each second).
      const database = new DatabaseSync(path);
      try {
        await eventually(
          () => (database.prepare('SELECT count(*) AS n FROM herald_outbox').get() as { n: number }).n === 0,
          'sent rows pruned',
          5000,
          50,
        );
      } finally {
        database.close();
      }
      assert.equal((await store.outbox!.lag()).unsentCount, 0);
    } finally {
      await relaying.stop();
    }
  });

  it('sqlite outbox - prometheusMetrics serves the lag as herald_outbox_* gauges', async () => {
    const metrics = prometheusMetrics();
    const bus = createBus({
      transport: memoryTransport(),
      source: '/test/metrics',
      idempotency: sqliteIdempotencyStore({
        path: join(directory.directory, 'metrics.sqlite'),
        outbox: true,
      }),
      contracts,
      metrics: metrics.bus,
      outboxRelay: { fallbackIntervalMs: 20 },
    });
    await bus.start();
    try {
      await bus.transaction(async (tx) => {
        await tx.publish(Deposited, { account: 'a-1', amount: 1 });
      });
      await eventually(async () => {
        const text = await metrics.registry.metrics();
        return (
          text.includes('herald_outbox_unsent_messages{source="/test/metrics"} 0') &&
          text.includes('herald_outbox_oldest_unsent_age_seconds{source="/test/metrics"} 0')
        );
      }, 'the outbox gauges at 0 once the row is sent');
    } finally {
      await bus.stop();
    }
  });

  it('sqlite outbox - staging without an outbox, and relay bounds out of range, are ConfigurationErrors', async () => {
    const bus = createBus({
      transport: memoryTransport(),
      idempotency: sqliteIdempotencyStore({ path: join(directory.directory, 'none.sqlite') }),
    });
    assert.throws(() => bus.outbox({}), ConfigurationError);
    // Relay bounds are checked at creation.
    const idempotency = sqliteIdempotencyStore({
      path: join(directory.directory, 'bounds.sqlite'),
      outbox: true,
    });
    for (const outboxRelay of [{ batchRows: 0 }, { fallbackIntervalMs: 5 }, { sequenceExtension: 'Seq!' }]) {
      assert.throws(
        () => createBus({ transport: memoryTransport(), idempotency, outboxRelay }),
        ConfigurationError,
      );
    }
    await idempotency.close();
    await assert.rejects((async () => bus.transaction(async () => undefined))(), /outbox: true/);
    await bus.stop();
  });
});
