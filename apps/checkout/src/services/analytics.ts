/**
 * The analytics service: streaming aggregates updated by every order and payment event, served at
 * `GET /stats`: orders per minute, revenue, decline rate, and p50/p99 time from placing an order
 * to its confirmation. Each event updates the counters once (inbox transaction).
 */
import type { DatabaseSync } from 'node:sqlite';
import {
  OrderCancelled,
  OrderConfirmed,
  OrderCreated,
  PaymentFailed,
  PaymentProcessed,
} from '../contracts.ts';
import { applyOnce, type ServiceDefinition } from './service.ts';

const ANALYTICS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS analytics_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS analytics_minutes (minute_ms INTEGER PRIMARY KEY, orders INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS analytics_confirm_times (order_id TEXT PRIMARY KEY, confirm_ms INTEGER NOT NULL);`;

const MINUTE_MS = 60_000;

/** What `GET /stats` answers. */
export interface CheckoutStats {
  readonly orders: number;
  readonly confirmed: number;
  readonly cancelled: number;
  readonly cancelledOutOfStock: number;
  readonly cancelledPaymentDeclined: number;
  readonly revenueCents: number;
  readonly paymentsProcessed: number;
  readonly paymentsFailed: number;
  /** Failed / (processed + failed), 0 before the first payment. */
  readonly declineRate: number;
  /** Orders placed in each minute (UTC), oldest first. */
  readonly ordersPerMinute: { minute: string; orders: number }[];
  /** Placed → confirmed, over every confirmed order. */
  readonly timeToConfirmMs: { p50: number | null; p99: number | null };
}

/** The analytics service. */
export const analyticsService: ServiceDefinition = {
  name: 'analytics',
  schema: ANALYTICS_SCHEMA,
  sends: [],
  register(bus) {
    const options = { group: 'analytics', concurrency: 64 };
    bus.on(OrderCreated, options, (order, context) =>
      applyOnce(context, (database) => {
        add(database, 'orders', 1);
        const minuteMs = Math.floor(Date.parse(order.placedAt) / MINUTE_MS) * MINUTE_MS;
        database
          .prepare(
            `INSERT INTO analytics_minutes (minute_ms, orders) VALUES (?, 1)
             ON CONFLICT (minute_ms) DO UPDATE SET orders = orders + 1`,
          )
          .run(minuteMs);
        return [];
      }),
    );
    bus.on(OrderConfirmed, options, (order, context) =>
      applyOnce(context, (database) => {
        add(database, 'confirmed', 1);
        add(database, 'revenue_cents', order.totalCents);
        const confirmedAtMs = Date.parse(context.envelope.time ?? new Date().toISOString());
        database
          .prepare('INSERT OR REPLACE INTO analytics_confirm_times (order_id, confirm_ms) VALUES (?, ?)')
          .run(order.orderId, Math.max(0, confirmedAtMs - Date.parse(order.placedAt)));
        return [];
      }),
    );
    bus.on(OrderCancelled, options, (order, context) =>
      applyOnce(context, (database) => {
        add(database, 'cancelled', 1);
        add(database, `cancelled_${order.reason}`, 1);
        return [];
      }),
    );
    bus.on(PaymentProcessed, { group: 'analytics', concurrency: 64 }, (_payment, context) =>
      applyOnce(context, (database) => {
        add(database, 'payments_processed', 1);
        return [];
      }),
    );
    bus.on(PaymentFailed, { group: 'analytics', concurrency: 64 }, (_payment, context) =>
      applyOnce(context, (database) => {
        add(database, 'payments_failed', 1);
        return [];
      }),
    );
  },
  routes: (runtime) => [
    { method: 'GET', path: '/stats', handle: () => ({ status: 200, body: readStats(runtime.store.read) }) },
  ],
};

/** Reads the aggregates. */
export function readStats(database: DatabaseSync): CheckoutStats {
  const counters = new Map(
    (
      database.prepare('SELECT name, value FROM analytics_counters').all() as {
        name: string;
        value: number;
      }[]
    ).map((row) => [row.name, row.value]),
  );
  const count = (name: string) => counters.get(name) ?? 0;
  const processed = count('payments_processed');
  const failed = count('payments_failed');
  const minutes = database
    .prepare('SELECT minute_ms, orders FROM analytics_minutes ORDER BY minute_ms')
    .all() as {
    minute_ms: number;
    orders: number;
  }[];
  return {
    orders: count('orders'),
    confirmed: count('confirmed'),
    cancelled: count('cancelled'),
    cancelledOutOfStock: count('cancelled_out-of-stock'),
    cancelledPaymentDeclined: count('cancelled_payment-declined'),
    revenueCents: count('revenue_cents'),
    paymentsProcessed: processed,
    paymentsFailed: failed,
    declineRate: processed + failed === 0 ? 0 : failed / (processed + failed),
    ordersPerMinute: minutes.map((row) => ({
      minute: new Date(row.minute_ms).toISOString(),
      orders: row.orders,
    })),
    timeToConfirmMs: { p50: confirmPercentile(database, 0.5), p99: confirmPercentile(database, 0.99) },
  };
}

function add(database: DatabaseSync, name: string, amount: number): void {
  database
    .prepare(
      `INSERT INTO analytics_counters (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = value + excluded.value`,
    )
    .run(name, amount);
}

function confirmPercentile(database: DatabaseSync, quantile: number): number | null {
  const { total } = database.prepare('SELECT count(*) AS total FROM analytics_confirm_times').get() as {
    total: number;
  };
  if (total === 0) return null;
  const offset = Math.min(total - 1, Math.ceil(quantile * total) - 1);
  const row = database
    .prepare('SELECT confirm_ms FROM analytics_confirm_times ORDER BY confirm_ms LIMIT 1 OFFSET ?')
    .get(Math.max(0, offset)) as { confirm_ms: number };
  return row.confirm_ms;
}
