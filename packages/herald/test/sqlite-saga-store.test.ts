/**
 * Sagas on the SQLite store (the runtime lives in @herald/bus; this is where it meets a real
 * database): a shipment saga that reserves, charges, confirms, compensates at most once, times
 * out through a scheduled message, and is archived and pruned.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { eventually, ownedTemporaryDirectory } from '@herald/test-support';
import {
  type Bus,
  createBus,
  defineCommand,
  defineEvent,
  defineSaga,
  memoryTransport,
  registerSaga,
  SagaConflictError,
  sagaMessage,
  silentLogger,
  sqliteIdempotencyStore,
  sqliteSagaStore,
  type Transport,
} from 'herald';
import { z } from 'zod';

const directory = await ownedTemporaryDirectory('herald-sqlite-saga-');
after(() => directory[Symbol.asyncDispose]());

const order = z.object({ orderId: z.string() });
const OrderPlaced = defineEvent('OrderPlaced', {
  topic: 'orders',
  schema: z.object({
    orderId: z.string(),
    amountCents: z.number(),
    pay: z.enum(['ok', 'declined', 'never']),
  }),
  key: (event) => event.orderId,
});
const Reserve = defineCommand('Reserve', { schema: order, key: (command) => command.orderId });
const Reserved = defineEvent('Reserved', { topic: 'stock', schema: order, key: (event) => event.orderId });
const Release = defineCommand('Release', { schema: order, key: (command) => command.orderId });
const Released = defineEvent('Released', { topic: 'stock', schema: order, key: (event) => event.orderId });
const Charge = defineCommand('Charge', { schema: order, key: (command) => command.orderId });
const Charged = defineEvent('Charged', { topic: 'payments', schema: order, key: (event) => event.orderId });
const Declined = defineEvent('Declined', { topic: 'payments', schema: order, key: (event) => event.orderId });
const contracts = [OrderPlaced, Reserve, Reserved, Release, Released, Charge, Charged, Declined];

const State = z.object({
  step: z.enum(['reserving', 'charging', 'releasing']),
  amountCents: z.number(),
  reason: z.string().optional(),
});

const PAYMENT_TIMEOUT_MS = 300;

const orderSaga = defineSaga({ name: 'order', state: State })
  .startedBy(
    OrderPlaced,
    (event) => event.orderId,
    (event) => ({
      state: { step: 'reserving', amountCents: event.amountCents },
      send: [sagaMessage(Reserve, { orderId: event.orderId })],
    }),
  )
  .on(
    Reserved,
    (event) => event.orderId,
    (event, state) =>
      state.step !== 'reserving'
        ? undefined
        : {
            state: { ...state, step: 'charging' },
            send: [sagaMessage(Charge, { orderId: event.orderId })],
            timeout: { afterMs: PAYMENT_TIMEOUT_MS },
          },
  )
  .on(
    Charged,
    (event) => event.orderId,
    (_event, state) => (state.step === 'charging' ? { complete: 'confirmed' } : undefined),
  )
  .on(
    Declined,
    (event) => event.orderId,
    (event, state) => cancel(event.orderId, state, 'declined'),
  )
  .on(
    Released,
    (event) => event.orderId,
    () => ({ complete: 'cancelled' }),
  )
  .onTimeout((_nothing, state, context) => cancel(context.sagaId, state, 'payment timed out'));

function cancel(orderId: string, state: z.infer<typeof State>, reason: string) {
  return {
    state: { ...state, step: 'releasing' as const, reason },
    compensate: [{ name: 'release-stock', send: [sagaMessage(Release, { orderId })] }],
  };
}

/** A bus with the saga and fake inventory and payment services; counts releases per order. */
function harness(name: string) {
  const path = join(directory.directory, `${name}.sqlite`);
  const bus = createBus({
    transport: memoryTransport(),
    idempotency: sqliteIdempotencyStore({ path, outbox: true }),
    contracts,
  });
  const sagas = registerSaga(bus, orderSaga, { store: sqliteSagaStore({ path }), pruneIntervalMs: 1000 });
  const releases = new Map<string, number>();
  const outcomes = new Map<string, 'ok' | 'declined' | 'never'>();
  bus.on(OrderPlaced, { group: 'test-payments' }, (event) => {
    outcomes.set(event.orderId, event.pay);
  });
  bus.handle(Reserve, (command, context) => context.publish(Reserved, command));
  bus.handle(Charge, async (command, context) => {
    const outcome = outcomes.get(command.orderId);
    if (outcome === 'ok') await context.publish(Charged, command);
    if (outcome === 'declined') await context.publish(Declined, command);
  });
  bus.handle(Release, async (command, context) => {
    releases.set(command.orderId, (releases.get(command.orderId) ?? 0) + 1);
    await context.publish(Released, command);
  });
  return { bus, sagas, releases, path };
}

async function finished(sagas: ReturnType<typeof harness>['sagas'], orderId: string) {
  await eventually(
    async () => (await sagas.find(orderId))?.finishedAtMs !== undefined,
    `saga ${orderId} finished`,
  );
  return (await sagas.find(orderId))!;
}

async function stopAll(bus: Bus, sagas: { close(): Promise<void> }) {
  try {
    await bus.stop();
  } finally {
    await sagas.close();
  }
}

describe('sqlite saga store', { timeout: 120_000 }, () => {
  it('sqlite saga store - a saga starts, advances and completes; state and history are queryable', async () => {
    const { bus, sagas, releases } = harness('complete');
    await bus.start();
    try {
      await bus.publish(OrderPlaced, { orderId: 'o-1', amountCents: 500, pay: 'ok' });
      const saga = await finished(sagas, 'o-1');
      assert.equal(saga.status, 'completed');
      assert.equal(saga.outcome, 'confirmed');
      assert.equal(saga.version, 3);
      assert.deepEqual(saga.state, { step: 'charging', amountCents: 500 });
      assert.equal(saga.timeoutId, undefined, 'the pending payment timeout was dropped');
      const history = await sagas.history('o-1');
      assert.deepEqual(
        history.map((entry) => [entry.version, entry.messageType, entry.status, entry.sent]),
        [
          [1, 'OrderPlaced', 'active', ['Reserve']],
          [2, 'Reserved', 'active', ['Charge', 'herald.saga.timeout.order']],
          [3, 'Charged', 'completed', []],
        ],
      );
      assert.equal(releases.size, 0);
      // The cancelled timeout never fires a transition, even after its time has passed.
      await new Promise((resolve) => setTimeout(resolve, PAYMENT_TIMEOUT_MS * 2));
      assert.equal((await sagas.history('o-1')).length, 3);
      assert.deepEqual(
        (await sagas.list('completed')).map((view) => view.id),
        ['o-1'],
      );
    } finally {
      await stopAll(bus, sagas);
    }
  });

  it('sqlite saga store - a declined payment compensates once, even when the decline is delivered twice', async () => {
    const { bus, sagas, releases } = harness('compensate');
    await bus.start();
    try {
      await bus.publish(OrderPlaced, { orderId: 'o-2', amountCents: 700, pay: 'declined' });
      await eventually(async () => (await sagas.find('o-2'))?.status !== 'active', 'saga o-2 compensating');
      // A second, distinct decline (another message id, so the inbox does not drop it) asks for
      // the same compensation step again: it must not run twice.
      await bus.publish(Declined, { orderId: 'o-2' });
      const saga = await finished(sagas, 'o-2');
      assert.equal(saga.status, 'compensated');
      assert.equal(saga.outcome, 'cancelled');
      assert.deepEqual(saga.compensated, ['release-stock']);
      assert.equal(releases.get('o-2'), 1);
      const steps = (await sagas.history('o-2')).flatMap((entry) => entry.compensations);
      assert.deepEqual(steps, ['release-stock']);
    } finally {
      await stopAll(bus, sagas);
    }
  });

  it('sqlite saga store - an unpaid order times out through a scheduled message and is compensated', async () => {
    const { bus, sagas, releases } = harness('timeout');
    await bus.start();
    try {
      const startedMs = Date.now();
      await bus.publish(OrderPlaced, { orderId: 'o-3', amountCents: 900, pay: 'never' });
      const saga = await finished(sagas, 'o-3');
      assert.ok(Date.now() - startedMs >= PAYMENT_TIMEOUT_MS, 'not before the timeout');
      assert.equal(saga.status, 'compensated');
      assert.deepEqual(saga.state, { step: 'releasing', amountCents: 900, reason: 'payment timed out' });
      assert.equal(releases.get('o-3'), 1);
      const types = (await sagas.history('o-3')).map((entry) => entry.messageType);
      assert.deepEqual(types, ['OrderPlaced', 'Reserved', 'herald.saga.timeout.order', 'Released']);
      // A late payment for a finished saga changes nothing.
      await bus.publish(Charged, { orderId: 'o-3' });
      await bus.publish(OrderPlaced, { orderId: 'o-3', amountCents: 1, pay: 'ok' });
      await eventually(() => bus.stats().handled >= 9, 'the late messages handled');
      assert.equal((await sagas.find('o-3'))?.version, saga.version);
    } finally {
      await stopAll(bus, sagas);
    }
  });

  it("sqlite saga store - start runs the first transition in the caller's transaction: rolled back with it, committed with it, started once", async () => {
    const { bus, sagas, path } = harness('start-in-transaction');
    await bus.start();
    try {
      const placed = { orderId: 'o-6', amountCents: 300, pay: 'never' } as const;
      await assert.rejects(
        bus.transaction<void, DatabaseSync>(async (tx) => {
          await sagas.start(tx, OrderPlaced, placed);
          throw new Error('the caller gives up');
        }),
        /the caller gives up/,
      );
      assert.equal(await sagas.find('o-6'), undefined, 'the rolled-back start left no saga');
      const started = await bus.transaction<Awaited<ReturnType<typeof sagas.start>>, DatabaseSync>(
        async (tx) => {
          tx.exec('CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)');
          tx.prepare('INSERT INTO orders (id) VALUES (?)').run('o-6');
          const result = await sagas.start(tx, OrderPlaced, placed);
          const row = tx.prepare("SELECT version FROM herald_saga WHERE id = 'o-6'").get();
          assert.deepEqual({ ...row }, { version: 1 }, 'the saga row is written in the transaction');
          return result;
        },
      );
      assert.deepEqual(started, { sagaId: 'o-6', messageId: started.messageId });
      const database = new DatabaseSync(path, { readOnly: true });
      try {
        const staged = database.prepare('SELECT id, type FROM herald_outbox ORDER BY seq').all();
        assert.deepEqual(
          staged.map((row) => row.type),
          ['OrderPlaced', 'Reserve'],
          'the start message and the first command were staged in that one commit',
        );
        assert.equal(staged[0]?.id, started.messageId);
      } finally {
        database.close();
      }
      // The rest runs on messages as always: Reserved, no payment, the timeout, the release.
      const saga = await finished(sagas, 'o-6');
      assert.equal(saga.status, 'compensated');
      const history = await sagas.history('o-6');
      assert.deepEqual(
        history.map((entry) => entry.messageType),
        ['OrderPlaced', 'Reserved', 'herald.saga.timeout.order', 'Released'],
        "the published OrderPlaced reached the saga's handler and did not start it again",
      );
      assert.equal(history[0]?.messageId, started.messageId);
      // 8 = the saga's OrderPlaced, Reserved, timeout and Released; the payments' OrderPlaced; Reserve, Charge, Release.
      await eventually(() => bus.stats().handled === 8, 'every message handled, OrderPlaced by the saga too');
      assert.equal((await sagas.find('o-6'))?.version, 4);
    } finally {
      await stopAll(bus, sagas);
    }
  });

  it('sqlite saga store - a timeout on a transport that cannot schedule is refused before the commit, and the message dead-lettered', async () => {
    const path = join(directory.directory, 'unsupported.sqlite');
    const memory = memoryTransport();
    const transport: Transport = {
      name: 'no-scheduling',
      features: { ...memory.features, scheduling: { mode: 'unsupported', reason: 'a test transport' } },
      publish: (topic, messages) => memory.publish(topic, messages),
      subscribe: (options, handler) => memory.subscribe(options, handler),
      close: (options) => memory.close(options),
    };
    const bus = createBus({
      transport,
      idempotency: sqliteIdempotencyStore({ path, outbox: true }),
      contracts,
      logger: silentLogger,
    });
    const sagas = registerSaga(bus, orderSaga, {
      store: sqliteSagaStore({ path }),
      retry: { attempts: 2, delayMsInitial: 10, delayMsMax: 10 },
    });
    bus.handle(Reserve, (command, context) => context.publish(Reserved, command));
    await bus.start();
    try {
      await bus.publish(OrderPlaced, { orderId: 'o-5', amountCents: 1, pay: 'never' });
      await eventually(() => bus.stats().deadLettered === 1, 'the Reserved event dead-lettered');
      const saga = await sagas.find('o-5');
      assert.equal(saga?.version, 1, 'the refused transition committed nothing');
      assert.equal(saga?.state.step, 'reserving');
      assert.equal(saga?.timeoutId, undefined);
    } finally {
      await stopAll(bus, sagas);
    }
  });

  it('sqlite saga store - a stale version is a retriable SagaConflictError and commits nothing; finished sagas are pruned', async () => {
    const { bus, sagas, path } = harness('conflict');
    await bus.start();
    try {
      await bus.publish(OrderPlaced, { orderId: 'o-4', amountCents: 1, pay: 'ok' });
      const saga = await finished(sagas, 'o-4');
      const store = sqliteSagaStore({ path });
      const entry = {
        saga: 'order',
        id: 'o-4',
        version: 4,
        messageType: 'x',
        messageId: 'm',
        status: saga.status,
        state: saga.state,
        sent: [],
        compensations: [],
        atMs: Date.now(),
      };
      await assert.rejects(
        bus.transaction((tx) => store.save(tx, { ...saga, version: 4 }, 2, entry, 10)),
        (error: unknown) => error instanceof SagaConflictError && error.retriable && error.sagaId === 'o-4',
      );
      await assert.rejects(
        bus.transaction((tx) => store.save(tx, { ...saga, version: 1 }, 0, { ...entry, version: 1 }, 10)),
        SagaConflictError,
        'a second start of the same id',
      );
      assert.equal((await sagas.history('o-4')).length, 3, 'the failed saves wrote no history');
      await store.close();
      assert.equal(await sagas.prune(), 0, 'inside the 7-day retention');
      const database = new DatabaseSync(path);
      try {
        database.prepare('UPDATE herald_saga SET finished_at_ms = 1 WHERE id = ?').run('o-4');
      } finally {
        database.close();
      }
      assert.equal(await sagas.prune(), 1);
      assert.equal(await sagas.find('o-4'), undefined);
      assert.deepEqual(await sagas.history('o-4'), []);
    } finally {
      await stopAll(bus, sagas);
    }
  });
});
