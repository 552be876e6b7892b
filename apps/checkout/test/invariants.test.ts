import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { openSqliteEventStore, rebuildProjection, sqliteProjectionTarget } from '@herald/eventstore';
import { eventually } from '@herald/test-support';
import { startCheckout } from '../src/app.ts';
import { checkInvariants, isQuiescent } from '../src/invariants.ts';
import { AUDIT_SCHEMA, appendToAuditLog, verifyAuditLog } from '../src/logic/audit-log.ts';
import { ORDER_EVENTS, ordersProjection } from '../src/logic/order-aggregate.ts';
import { postJson, temporaryDirectory } from './helpers.ts';

describe('checkout - invariants under concurrent orders', { timeout: 600_000 }, () => {
  it('never oversells a scarce SKU, conserves stock, sends one e-mail per order and audits every event once', async () => {
    const stock = new Map([
      ['SG-10', 5],
      ['KB-01', 1000],
    ]);
    const checkout = await startCheckout({
      dataDir: temporaryDirectory('invariants'),
      stock,
      payment: { declineRate: 0.3, latencyMsMin: 1, latencyMsMax: 20, seed: 3 },
    });
    try {
      for (const customerId of ['c-1', 'c-2']) {
        const user = await postJson(`${checkout.url}/users`, {
          customerId,
          name: customerId,
          email: `${customerId}@test.example`,
        });
        assert.equal(user.status, 201);
      }
      // 30 orders race for 5 units of SG-10; 20 more buy KB-01 (some declined: compensation).
      const orders = await Promise.all([
        ...Array.from({ length: 30 }, (_, index) =>
          postJson(`${checkout.url}/orders`, {
            customerId: `c-${(index % 2) + 1}`,
            items: [{ sku: 'SG-10', quantity: 1 }],
          }),
        ),
        ...Array.from({ length: 20 }, () =>
          postJson(`${checkout.url}/orders`, { customerId: 'c-1', items: [{ sku: 'KB-01', quantity: 2 }] }),
        ),
      ]);
      assert.deepEqual(new Set(orders.map((order) => order.status)), new Set([202]));
      await eventually(() => isQuiescent(checkout), 'every order to complete and every consumer to catch up');

      const { facts, invariants } = checkInvariants(checkout, { expectedOrders: 50 });
      for (const invariant of invariants)
        assert.ok(invariant.holds, `${invariant.name}: ${invariant.detail}`);
      const scarce = facts.stock.find((level) => level.sku === 'SG-10')!;
      assert.ok(scarce.sold <= 5 && scarce.available >= 0, `SG-10 sold ${scarce.sold} of 5`);
      assert.equal(scarce.available + scarce.reserved + scarce.sold, 5);
      // Declined orders give their unit back, so more than 5 SG-10 orders may reserve; only 5 can sell.
      assert.equal(facts.soldByOrders['SG-10'], scarce.sold);
      assert.ok(
        facts.orders.outOfStock >= 30 - 5 - facts.orders.declined,
        `${facts.orders.outOfStock} out of stock`,
      );
      assert.ok(facts.orders.declined > 0, 'some payments were declined, so some reservations were released');
      assert.equal(facts.emails.confirmations + facts.emails.cancellations, 50);
      assert.equal(facts.emails.files, 50);
      const released = checkout.stores
        .get('inventory')!
        .read.prepare(
          "SELECT count(DISTINCT order_id) AS total FROM inventory_reservations WHERE state = 'released'",
        )
        .get() as { total: number };
      assert.equal(released.total, facts.orders.declined, 'every declined order released its reservation');
      assert.ok(facts.audit.ok);

      // CQRS: the orders read model equals a replay of the order streams from scratch, row for row.
      const orderStore = checkout.stores.get('order')!;
      const events = await openSqliteEventStore({ path: orderStore.path, contracts: ORDER_EVENTS });
      const replayed = new DatabaseSync(':memory:');
      try {
        await rebuildProjection(events, sqliteProjectionTarget(replayed), ordersProjection);
        const rows = (database: DatabaseSync) =>
          database.prepare('SELECT * FROM orders ORDER BY order_id').all();
        const live = rows(orderStore.read);
        assert.equal(live.length, 50);
        assert.deepEqual(rows(replayed), live);
      } finally {
        replayed.close();
        await events.close();
      }
    } finally {
      await checkout.stop();
    }
  });
});

describe('checkout - audit log verification', { timeout: 600_000 }, () => {
  const envelope = (id: string, key: string, seq: number) => ({
    specversion: '1.0' as const,
    id,
    source: '/test',
    type: 'OrderCreated',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    partitionkey: key,
    dataversion: 1,
    extensions: { seq: String(seq) },
    data: { orderId: key },
  });

  it('refuses updates and deletes, and detects a forged entry, a duplicate, an order violation and a gap', () => {
    const database = new DatabaseSync(':memory:');
    database.exec(AUDIT_SCHEMA);
    appendToAuditLog(database, 'orders', envelope('e1', 'o-1', 1));
    appendToAuditLog(database, 'orders', envelope('e2', 'o-1', 2));
    assert.ok(verifyAuditLog(database, new Set(['e1', 'e2'])).ok);
    assert.throws(() => database.exec("UPDATE audit_log SET data = '{}'"), /append-only/);
    assert.throws(() => database.exec('DELETE FROM audit_log'), /append-only/);

    appendToAuditLog(database, 'orders', envelope('e2', 'o-1', 2)); // the same event again
    appendToAuditLog(database, 'orders', envelope('e0', 'o-1', 0)); // older than what came before
    const found = verifyAuditLog(database, new Set(['e0', 'e1', 'e2', 'e3']));
    assert.equal(found.ok, false);
    assert.deepEqual(found.duplicateIds, ['e2']);
    assert.equal(found.orderViolations.length, 2);
    assert.deepEqual(found.missingIds, ['e3']);

    database.exec('DROP TRIGGER audit_log_no_update');
    database.exec('UPDATE audit_log SET data = \'{"orderId":"forged"}\' WHERE position = 1');
    assert.equal(verifyAuditLog(database).brokenAtPosition, 1);
  });
});
