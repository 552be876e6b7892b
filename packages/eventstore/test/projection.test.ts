/**
 * Projections on both targets (SQLite, PostgreSQL) over both stores: catch-up then live, the lag
 * metric, rebuild by replay, a failing `apply` rolling its page back; and the decider's
 * `handleCommand` retrying a conflicting append.
 */
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { defineEvent } from '@herald/bus';
import {
  aggregateState,
  decider,
  type EventStore,
  event,
  handleCommand,
  type Projection,
  type ProjectionTarget,
  postgresProjectionTarget,
  rebuildProjection,
  runProjection,
  sqliteProjectionTarget,
  WrongExpectedVersionError,
} from '@herald/eventstore';
import type pg from 'pg';
import { z } from 'zod';
import { BACKENDS, type OpenedStore, openFresh } from './support/backends.ts';

const Counted = defineEvent('Counted', { topic: 'counters', schema: z.object({ by: z.number().int() }) });

async function poll(
  check: () => boolean | Promise<boolean>,
  what: string,
  deadlineMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A read model of counter totals, written through `run` (a statement runner of the target). */
interface Totals<Tx> {
  readonly target: ProjectionTarget<Tx>;
  readonly projection: Projection<Tx>;
  totals(): Promise<Record<string, number>>;
}

function sqliteTotals(failOn?: number): Totals<DatabaseSync> {
  const db = new DatabaseSync(':memory:');
  return {
    target: sqliteProjectionTarget(db),
    projection: {
      name: 'totals',
      category: 'counter',
      setup: (tx) =>
        tx.exec('create table if not exists totals (stream text primary key, total integer not null)'),
      reset: (tx) => tx.exec('delete from totals'),
      apply: (tx, e) => {
        const by = (e.data as { by: number }).by;
        if (by === failOn) throw new Error('apply failed on purpose');
        tx.prepare(
          'insert into totals values (?, ?) on conflict (stream) do update set total = total + excluded.total',
        ).run(e.stream, by);
      },
    },
    async totals() {
      const rows = db.prepare('select stream, total from totals order by stream').all() as {
        stream: string;
        total: number;
      }[];
      return Object.fromEntries(rows.map((row) => [row.stream, row.total]));
    },
  };
}

function postgresTotals(pool: pg.Pool, schema: string): Totals<pg.PoolClient> {
  return {
    target: postgresProjectionTarget(pool),
    projection: {
      name: `totals_${schema}`,
      category: 'counter',
      setup: async (tx) => {
        await tx.query(
          `create table if not exists ${schema}.totals (stream text primary key, total integer not null)`,
        );
      },
      reset: async (tx) => {
        await tx.query(`delete from ${schema}.totals`);
      },
      apply: async (tx, e) => {
        await tx.query(
          `insert into ${schema}.totals values ($1, $2) on conflict (stream) do update set total = ${schema}.totals.total + excluded.total`,
          [e.stream, (e.data as { by: number }).by],
        );
      },
    },
    async totals() {
      const result = await pool.query<{ stream: string; total: number }>(
        `select stream, total from ${schema}.totals order by stream`,
      );
      return Object.fromEntries(result.rows.map((row) => [row.stream, row.total]));
    },
  };
}

async function appendCounts(store: EventStore, count: number): Promise<Record<string, number>> {
  const expected: Record<string, number> = {};
  for (let index = 0; index < count; index++) {
    const stream = `counter-${index % 3}`;
    await store.appendToStream(stream, [event(Counted, { by: index + 1 })]);
    await store.appendToStream('noise-1', [event(Counted, { by: 1000 })]);
    expected[stream] = (expected[stream] ?? 0) + index + 1;
  }
  return expected;
}

for (const backend of BACKENDS) {
  describe(`projections (${backend} store)`, { timeout: 120_000 }, () => {
    const opened: OpenedStore[] = [];
    after(async () => {
      for (const store of opened) await store.cleanup();
    });
    const fresh = async () => {
      const store = await openFresh(backend, [Counted]);
      opened.push(store);
      return store;
    };
    const targets = async (store: OpenedStore) => {
      const list: Totals<never>[] = [sqliteTotals() as Totals<never>];
      if (store.pool !== undefined)
        list.push(postgresTotals(store.pool, store.table!.split('.')[0]!) as Totals<never>);
      return list;
    };

    it('projections - catch-up then live, lag reaches 0, rebuild replays to the same rows', async () => {
      const opened = await fresh();
      const { store } = opened;
      const expectedBefore = await appendCounts(store, 12);
      for (const totals of await targets(opened)) {
        const runner = runProjection(store, totals.target, totals.projection, { pageCountMax: 5 });
        try {
          await runner.caughtUp();
          assert.deepEqual(await totals.totals(), expectedBefore, `${totals.target.name}: caught up`);
          assert.equal(await runner.lag(), 0n);
        } finally {
          await runner.close();
        }
        await runner.done;
      }
      const live = (await targets(opened))[0]!;
      const lags: number[] = [];
      const runner = runProjection(store, live.target, live.projection, {
        metrics: { projectionLag: (name, lag) => name === 'totals' && lags.push(lag) },
      });
      try {
        await runner.caughtUp();
        await store.appendToStream('counter-9', [event(Counted, { by: 7 })]);
        await poll(async () => (await live.totals())['counter-9'] === 7, 'the live event');
        await poll(async () => (await runner.lag()) === 0n, 'lag 0');
        assert.ok(
          lags.length > 0 && lags.at(-1) === 0,
          `lag reported after each page, 0 at the head: ${lags}`,
        );
      } finally {
        await runner.close();
      }
      const before = await live.totals();
      await rebuildProjection(store, live.target, live.projection, { pageCountMax: 2 });
      assert.deepEqual(await live.totals(), before, 'a rebuild replays to the same rows');
    });

    it('projections - a failing apply rolls its page back and stops the projection', async () => {
      const { store } = await fresh();
      await store.appendToStream('counter-1', [event(Counted, { by: 1 }), event(Counted, { by: 2 })]);
      await store.appendToStream('counter-1', [event(Counted, { by: 13 })]);
      const totals = sqliteTotals(13);
      const runner = runProjection(store, totals.target, totals.projection, { pageCountMax: 1 });
      await assert.rejects(runner.done, /apply failed on purpose/);
      assert.deepEqual(
        await totals.totals(),
        { 'counter-1': 3 },
        'the pages before the failing one committed',
      );
    });

    it('projections - handleCommand retries a conflicting append and keeps the invariant', async () => {
      const { store } = await fresh();
      const counter = decider<{ by: number }, { total: number }>({
        initialState: () => ({ total: 0 }),
        evolve: (state, e) => ({ total: state.total + (e.data as { by: number }).by }),
        decide: (command, state) => {
          if (state.total + command.by > 100) throw new Error('the total may not pass 100');
          return [event(Counted, { by: command.by })];
        },
      });
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, () =>
          handleCommand(store, 'counter-x', counter, { by: 10 }, { attemptsMax: 20 }),
        ),
      );
      const fulfilled = results.filter((result) => result.status === 'fulfilled').length;
      assert.equal(fulfilled, 10, 'exactly ten fit under 100');
      for (const result of results) {
        if (result.status === 'rejected') {
          assert.ok(!(result.reason instanceof WrongExpectedVersionError), 'conflicts were retried');
          assert.match(String(result.reason), /may not pass 100/);
        }
      }
      const { state, version } = await aggregateState(store, 'counter-x', counter);
      assert.deepEqual({ state, version }, { state: { total: 100 }, version: 10 });
    });
  });
}
