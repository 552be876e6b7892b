/**
 * Saga crash test (acceptance of issue 19): the checkout (`npm start` in a child process) is
 * killed -9 at random points of its order sagas, three times, and then runs to the end on the
 * same data directory. Charges take up to PAYMENT_LATENCY_MS_MAX while the saga waits
 * PAYMENT_TIMEOUT_MS, so many orders take the payment timeout path (cancel, release the stock,
 * void the payment) while others confirm or are declined. Afterwards, read from the order
 * service's database: every order is confirmed or cancelled, every saga finished with the matching
 * outcome, no compensation step was staged twice for one order, every invariant of the run's
 * report holds (stock conserved, each confirmed order charged once, one e-mail per order, ...),
 * and the orders read model (a projection killed with the rest) equals a replay of the order streams.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { openSqliteEventStore, rebuildProjection, sqliteProjectionTarget } from '@herald/eventstore';
import { createRandom, seedFromEnv } from '@herald/test-support';
import { ordersProjection } from '../src/logic/order-aggregate.ts';
import { temporaryDirectory } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
const ORDERS = 200;
const KILLS = 3;
const PAYMENT_TIMEOUT_MS = 1000;
const PAYMENT_LATENCY_MS_MAX = 1500;
/** Deadline of one run of the app (the last one settles every saga). */
const RUN_TIMEOUT_MS = 45_000;

/** Runs the checkout on `dataDir`; with `killAfterMs`, kill -9s it that long after its API is up. */
function runApp(dataDir: string, seed: number, killAfterMs?: number) {
  const args = [
    MAIN,
    ...['--data', dataDir, '--orders', String(ORDERS), '--rate', '100', '--customers', '20'],
    ...['--seed', String(seed), '--port', '0', '--decline-rate', '0.1'],
    ...[
      '--payment-timeout-ms',
      String(PAYMENT_TIMEOUT_MS),
      '--payment-latency-ms-max',
      String(PAYMENT_LATENCY_MS_MAX),
    ],
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', HERALD_LOG_LEVEL: 'error' },
  });
  let stdout = '';
  let stderr = '';
  let killTimer: NodeJS.Timeout | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (killAfterMs !== undefined && killTimer === undefined && stdout.includes('API listening')) {
      killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const deadline = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        clearTimeout(deadline);
        clearTimeout(killTimer);
        resolve({ code, signal, stdout, stderr });
      });
    },
  );
}

describe('checkout - order saga under kill -9', { timeout: 240_000 }, () => {
  it('checkout - every order saga ends confirmed or cancelled after kill -9s, compensations staged once', async (t) => {
    const seed = seedFromEnv('HERALD_SAGA_CRASH_SEED');
    const random = createRandom(seed);
    const dataDir = temporaryDirectory('saga-crash');
    const killDelaysMs = Array.from({ length: KILLS }, () => 200 + Math.floor(random() * 1800));
    for (const killAfterMs of killDelaysMs) {
      const killed = await runApp(dataDir, seed, killAfterMs);
      assert.equal(
        killed.signal,
        'SIGKILL',
        `the run should be killed mid-run; it ended with ${killed.code}: ${killed.stderr}`,
      );
    }
    const final = await runApp(dataDir, seed);
    const report = JSON.parse(readFileSync(join(dataDir, 'report.json'), 'utf8')) as {
      invariants: { name: string; holds: boolean; detail: string }[];
      orders: { total: number; open: number };
    };
    assert.deepEqual(
      report.invariants.filter((invariant) => !invariant.holds),
      [],
      'every invariant holds',
    );
    assert.equal(final.code, 0, final.stderr);
    assert.equal(report.orders.total, ORDERS);
    assert.equal(report.orders.open, 0);

    const database = new DatabaseSync(join(dataDir, 'state', 'order.sqlite'), { readOnly: true });
    try {
      const orders = database.prepare('SELECT order_id, status, reason FROM orders').all() as {
        order_id: string;
        status: string;
        reason: string | null;
      }[];
      const sagas = new Map(
        (
          database
            .prepare("SELECT id, status, outcome, finished_at_ms FROM herald_saga WHERE saga = 'order'")
            .all() as {
            id: string;
            status: string;
            outcome: string | null;
            finished_at_ms: number | null;
          }[]
        ).map((saga) => [saga.id, saga]),
      );
      assert.equal(sagas.size, ORDERS, 'one saga per order');
      for (const order of orders) {
        assert.ok(
          ['confirmed', 'cancelled'].includes(order.status),
          `order ${order.order_id} is ${order.status}`,
        );
        const saga = sagas.get(order.order_id);
        assert.ok(saga?.finished_at_ms !== null, `saga ${order.order_id} finished`);
        assert.equal(saga?.outcome, order.status, `saga ${order.order_id} outcome`);
        assert.equal(
          saga?.status,
          order.reason === 'out-of-stock' || order.status === 'confirmed' ? 'completed' : 'compensated',
        );
      }
      const twice = database
        .prepare(
          `SELECT type, key, count(*) AS staged FROM herald_outbox WHERE type IN ('ReleaseInventory', 'VoidPayment')
           GROUP BY type, key HAVING count(*) > 1`,
        )
        .all();
      assert.deepEqual(twice, [], 'no compensation staged twice for one order');
      // The orders read model, kept by a projection killed -9 with the rest, equals a replay.
      const events = await openSqliteEventStore({ path: join(dataDir, 'state', 'order.sqlite') });
      const replayed = new DatabaseSync(':memory:');
      try {
        await rebuildProjection(events, sqliteProjectionTarget(replayed), ordersProjection);
        const rows = (from: DatabaseSync) => from.prepare('SELECT * FROM orders ORDER BY order_id').all();
        assert.deepEqual(
          rows(replayed),
          rows(database),
          'the read model equals a replay of the order streams',
        );
      } finally {
        replayed.close();
        await events.close();
      }
      const byReason = (reason: string) => orders.filter((order) => order.reason === reason).length;
      const confirmed = orders.filter((order) => order.status === 'confirmed').length;
      assert.ok(byReason('payment-timeout') > 0, 'some orders took the payment timeout path');
      assert.ok(confirmed > 0, 'some orders confirmed');
      t.diagnostic(
        `seed ${seed}; kill -9 after ${killDelaysMs.join(', ')} ms; ${confirmed} confirmed, ` +
          `${byReason('payment-timeout')} timed out, ${byReason('payment-declined')} declined, ` +
          `${byReason('out-of-stock')} out of stock; 0 open sagas, 0 compensations twice`,
      );
    } finally {
      database.close();
    }
  });
});
