/**
 * Sagas on PostgreSQL: transitions commit with the inbox row and the outbox rows; a declined
 * payment compensates once; an unpaid order times out through a scheduled message; two
 * transactions that read the same version cannot both commit (the second gets a retriable
 * SagaConflictError); finished sagas are pruned with their history.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Bus,
  createBus,
  defineCommand,
  defineEvent,
  defineSaga,
  memoryTransport,
  registerSaga,
  SagaConflictError,
  type SagaRecord,
  sagaMessage,
  silentLogger,
} from '@herald/bus';
import { eventually, POSTGRES_URL } from '@herald/test-support';
import type pg from 'pg';
import { z } from 'zod';
import { postgresInbox, postgresSagaStore } from '../src/index.ts';
import { type Scratch, scratchSchema } from './support/scratch.ts';

const order = z.object({ orderId: z.string() });
const OrderPlaced = defineEvent('OrderPlaced', {
  topic: 'orders',
  schema: z.object({ orderId: z.string(), pay: z.enum(['ok', 'declined', 'never']) }),
  key: (event) => event.orderId,
});
const Charge = defineCommand('Charge', { schema: order, key: (command) => command.orderId });
const Charged = defineEvent('Charged', { topic: 'payments', schema: order, key: (event) => event.orderId });
const Declined = defineEvent('Declined', { topic: 'payments', schema: order, key: (event) => event.orderId });
const Refund = defineCommand('Refund', { schema: order, key: (command) => command.orderId });
const contracts = [OrderPlaced, Charge, Charged, Declined, Refund];

const State = z.object({ attempts: z.number().int() });
const TIMEOUT_MS = 300;

const paymentSaga = defineSaga({ name: 'payment', state: State })
  .startedBy(
    OrderPlaced,
    (event) => event.orderId,
    (event) => ({
      state: { attempts: 1 },
      send: [sagaMessage(Charge, { orderId: event.orderId })],
      timeout: { afterMs: TIMEOUT_MS },
    }),
  )
  .on(
    Charged,
    (event) => event.orderId,
    () => ({ complete: 'paid' }),
  )
  .on(
    Declined,
    (event) => event.orderId,
    (event) => ({
      compensate: [{ name: 'refund', send: [sagaMessage(Refund, { orderId: event.orderId })] }],
      complete: 'declined',
    }),
  )
  .onTimeout((_nothing, _state, context) => ({
    compensate: [{ name: 'refund', send: [sagaMessage(Refund, { orderId: context.sagaId })] }],
    complete: 'timed out',
  }));

let scratch: Scratch;
before(async () => {
  scratch = await scratchSchema('herald_saga');
});
after(async () => {
  await scratch.drop();
});

function sagaBus(): { bus: Bus; refunds: Map<string, number> } {
  const inbox = postgresInbox({
    connectionString: POSTGRES_URL,
    table: scratch.table('inbox'),
    outbox: { table: scratch.table('outbox') },
    logger: silentLogger,
  });
  const bus = createBus({
    transport: memoryTransport(),
    idempotency: inbox,
    contracts,
    logger: silentLogger,
  });
  const pay = new Map<string, string>();
  const refunds = new Map<string, number>();
  bus.on(OrderPlaced, { group: 'test-payments' }, (event) => {
    pay.set(event.orderId, event.pay);
  });
  bus.handle(Charge, async (command, context) => {
    // The order's own event may still be on its way: wait for it (bounded by the handler timeout).
    await eventually(() => pay.has(command.orderId), `payment plan of ${command.orderId}`);
    if (pay.get(command.orderId) === 'ok') await context.publish(Charged, command);
    if (pay.get(command.orderId) === 'declined') await context.publish(Declined, command);
  });
  bus.handle(Refund, (command) => {
    refunds.set(command.orderId, (refunds.get(command.orderId) ?? 0) + 1);
  });
  return { bus, refunds };
}

describe('postgres saga store', { timeout: 120_000 }, () => {
  test('postgres saga store - paid, declined and timed-out sagas finish once each, compensating at most once', async () => {
    const { bus, refunds } = sagaBus();
    const sagas = registerSaga(bus, paymentSaga, {
      store: postgresSagaStore({ pool: scratch.pool, table: scratch.table('saga') }),
      logger: silentLogger,
    });
    await bus.start();
    try {
      await bus.publish(OrderPlaced, { orderId: 'p-ok', pay: 'ok' });
      await bus.publish(OrderPlaced, { orderId: 'p-declined', pay: 'declined' });
      await bus.publish(OrderPlaced, { orderId: 'p-never', pay: 'never' });
      for (const id of ['p-ok', 'p-declined', 'p-never']) {
        await eventually(
          async () => (await sagas.find(id))?.finishedAtMs !== undefined,
          `saga ${id} finished`,
        );
      }
      const outcome = async (id: string) => {
        const saga = (await sagas.find(id))!;
        return [saga.status, saga.outcome, saga.version];
      };
      assert.deepEqual(await outcome('p-ok'), ['completed', 'paid', 2]);
      assert.deepEqual(await outcome('p-declined'), ['compensated', 'declined', 2]);
      assert.deepEqual(await outcome('p-never'), ['compensated', 'timed out', 2]);
      // A decline after the timeout finished the saga: ignored, no second refund.
      await bus.publish(Declined, { orderId: 'p-never' });
      await eventually(() => refunds.size === 2, 'two refunds');
      assert.deepEqual([...refunds.entries()].sort(), [
        ['p-declined', 1],
        ['p-never', 1],
      ]);
      const history = await sagas.history('p-never');
      assert.deepEqual(
        history.map((entry) => [entry.messageType, entry.compensations]),
        [
          ['OrderPlaced', []],
          ['herald.saga.timeout.payment', ['refund']],
        ],
      );
      assert.deepEqual((await sagas.list('compensated')).map((saga) => saga.id).sort(), [
        'p-declined',
        'p-never',
      ]);
    } finally {
      await bus.stop();
      await sagas.close();
    }
  });

  test("postgres saga store - start runs the first transition in the caller's transaction, with its rows, once", async () => {
    const { bus, refunds } = sagaBus();
    const table = scratch.table('start_orders');
    const sagas = registerSaga(bus, paymentSaga, {
      store: postgresSagaStore({ pool: scratch.pool, table: scratch.table('start_saga') }),
      logger: silentLogger,
    });
    await scratch.pool.query(`create table ${table} (id text primary key)`);
    await bus.start();
    try {
      await assert.rejects(
        bus.transaction<void, pg.ClientBase>(async (tx) => {
          await tx.query(`insert into ${table} (id) values ('p-rolled-back')`);
          await sagas.start(tx, OrderPlaced, { orderId: 'p-rolled-back', pay: 'ok' });
          throw new Error('the caller gives up');
        }),
        /the caller gives up/,
      );
      const started = await bus.transaction<Awaited<ReturnType<typeof sagas.start>>, pg.ClientBase>(
        async (tx) => {
          await tx.query(`insert into ${table} (id) values ('p-start')`);
          return sagas.start(tx, OrderPlaced, { orderId: 'p-start', pay: 'declined' });
        },
      );
      assert.equal(started.sagaId, 'p-start');
      await eventually(
        async () => (await sagas.find('p-start'))?.finishedAtMs !== undefined,
        'saga finished',
      );
      const history = await sagas.history('p-start');
      assert.deepEqual(
        history.map((entry) => [entry.messageType, entry.messageId === started.messageId]),
        [
          ['OrderPlaced', true],
          ['Declined', false],
        ],
        'started once: the published OrderPlaced did not start it again',
      );
      // The refund is a command the finishing transition sent: its handler runs after the commit.
      await eventually(() => refunds.has('p-start'), 'the refund handled');
      assert.equal(refunds.get('p-start'), 1);
      assert.equal(await sagas.find('p-rolled-back'), undefined, 'the rolled-back start left no saga');
      const rows = await scratch.pool.query(`select id from ${table} order by id`);
      assert.deepEqual(
        rows.rows.map((row) => row.id),
        ['p-start'],
      );
    } finally {
      await bus.stop();
      await sagas.close();
    }
  });

  test('postgres saga store - concurrent transitions of one saga conflict and are retried by the bus until every one applied once', async (t) => {
    const Opened = defineEvent('Opened', { topic: 'counters', schema: z.object({ id: z.string() }) });
    const AddedA = defineEvent('AddedA', {
      topic: 'adds-a',
      schema: z.object({ id: z.string(), n: z.number() }),
    });
    const AddedB = defineEvent('AddedB', {
      topic: 'adds-b',
      schema: z.object({ id: z.string(), n: z.number() }),
    });
    const add = (_event: { n: number }, state: { total: number; count: number }) => ({
      state: { total: state.total + _event.n, count: state.count + 1 },
    });
    const counter = defineSaga({ name: 'counter', state: z.object({ total: z.number(), count: z.number() }) })
      .startedBy(
        Opened,
        (event) => event.id,
        () => ({ state: { total: 0, count: 0 } }),
      )
      .on(AddedA, (event) => event.id, add)
      .on(AddedB, (event) => event.id, add);
    const inbox = postgresInbox({
      connectionString: POSTGRES_URL,
      table: scratch.table('counter_inbox'),
      outbox: { table: scratch.table('counter_outbox') },
      logger: silentLogger,
    });
    const bus = createBus({
      transport: memoryTransport(),
      idempotency: inbox,
      contracts: [Opened, AddedA, AddedB],
      logger: silentLogger,
    });
    const sagas = registerSaga(bus, counter, {
      store: postgresSagaStore({ pool: scratch.pool, table: scratch.table('counter') }),
      concurrency: 8,
      retry: { attempts: 100, delayMsInitial: 5, delayMsMax: 50 },
      logger: silentLogger,
    });
    const ADDS = 40;
    await bus.start();
    try {
      await bus.publish(Opened, { id: 'c' });
      await eventually(async () => (await sagas.find('c')) !== undefined, 'the counter saga started');
      // Two topics, no key: both subscriptions run transitions of the one saga at once.
      await Promise.all(
        Array.from({ length: ADDS }, (_, n) => bus.publish(n % 2 === 0 ? AddedA : AddedB, { id: 'c', n })),
      );
      await eventually(
        async () => (await sagas.find('c'))?.state.count === ADDS,
        `${ADDS} additions applied`,
        60_000,
      );
      const saga = (await sagas.find('c'))!;
      assert.equal(saga.state.total, (ADDS * (ADDS - 1)) / 2, 'each addition applied exactly once');
      assert.equal(saga.version, ADDS + 1);
      assert.equal(bus.stats().deadLettered, 0);
      const conflicts = bus.stats().failed;
      assert.equal((await sagas.history('c')).length, ADDS + 1);
      t.diagnostic(`${conflicts} transitions failed on a conflict and were retried`);
    } finally {
      await bus.stop();
      await sagas.close();
    }
  });

  test('postgres saga store - two transactions on one version: the second is a SagaConflictError; prune removes finished sagas', async () => {
    const store = postgresSagaStore({ pool: scratch.pool, table: scratch.table('conflict') });
    const record: SagaRecord = {
      saga: 's',
      id: 'c-1',
      status: 'active',
      version: 1,
      state: { n: 1 },
      timeoutId: undefined,
      compensated: [],
      outcome: undefined,
      startedAtMs: 1,
      updatedAtMs: 1,
      finishedAtMs: undefined,
    };
    const entry = (version: number) => ({
      saga: 's',
      id: 'c-1',
      version,
      messageType: 't',
      messageId: `m-${version}`,
      status: 'active' as const,
      state: {},
      sent: [],
      compensations: [],
      atMs: 1,
    });
    const first = await scratch.pool.connect();
    const second = await scratch.pool.connect();
    try {
      await first.query('begin');
      await store.save(first, record, 0, entry(1), 10);
      await first.query('commit');
      await first.query('begin');
      await second.query('begin');
      const readFirst = await store.load(first, 's', 'c-1');
      const readSecond = await store.load(second, 's', 'c-1');
      assert.equal(readFirst?.version, 1);
      assert.equal(readSecond?.version, 1);
      await store.save(first, { ...record, version: 2 }, 1, entry(2), 10);
      // The second waits for the first's row lock, then finds the row moved on.
      // The check is attached at once: the conflict may be raised before the commit's reply arrives.
      const refused = assert.rejects(
        store.save(second, { ...record, version: 2 }, 1, entry(2), 10),
        (error: unknown) => error instanceof SagaConflictError && error.retriable,
      );
      await first.query('commit');
      await refused;
      await second.query('rollback');
      assert.equal((await store.find('s', 'c-1'))?.version, 2);
      await first.query('begin');
      await store.save(
        first,
        { ...record, version: 3, status: 'completed', finishedAtMs: 5 },
        2,
        entry(3),
        2,
      );
      await first.query('commit');
      assert.deepEqual(
        (await store.history('s', 'c-1', 100)).map((item) => item.version),
        [2, 3],
        'trimmed to 2',
      );
      await first.query('begin');
      assert.equal(await store.prune(first, 10, 100), 1);
      await first.query('commit');
      assert.equal(await store.find('s', 'c-1'), undefined);
      assert.deepEqual(await store.history('s', 'c-1', 100), []);
    } finally {
      await first.query('rollback').catch(() => undefined);
      await second.query('rollback').catch(() => undefined);
      first.release();
      second.release();
    }
  });
});
