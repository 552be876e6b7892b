/**
 * Orders and their lifecycle. The `orders` table is the event-driven order service's read model
 * (a projection of its order streams, order-aggregate.ts) and the synchronous variant's state,
 * which `createOrder` and `advance` write. An order only moves forward:
 *
 *   pending ─InventoryReserved→ reserved ─PaymentProcessed→ confirmed
 *   pending ─InventoryReservationFailed→ cancelled (out-of-stock)
 *   reserved ─PaymentFailed→ releasing ─InventoryReleased→ cancelled (payment-declined)
 *   reserved ─payment timeout→ releasing ─InventoryReleased→ cancelled (payment-timeout)
 *
 * {@link advance} applies a step only from the states it names, so a step that arrives twice or
 * late changes nothing.
 */
import type { DatabaseSync } from 'node:sqlite';
import { CATALOG, findProduct } from '../catalog.ts';

/** Tables of the order service. */
export const ORDER_SCHEMA = `
  CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    customer_id TEXT NOT NULL,
    items TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'reserved', 'releasing', 'confirmed', 'cancelled')),
    reason TEXT,
    placed_at_ms INTEGER NOT NULL,
    completed_at_ms INTEGER);
  CREATE INDEX IF NOT EXISTS orders_status ON orders (status);`;

/** Where an order is in its lifecycle. */
export type OrderStatus = 'pending' | 'reserved' | 'releasing' | 'confirmed' | 'cancelled';
/** Every status, in lifecycle order. */
export const ORDER_STATUSES: readonly OrderStatus[] = [
  'pending',
  'reserved',
  'releasing',
  'confirmed',
  'cancelled',
];
/** Statuses an order ends in. */
export const TERMINAL_STATUSES: readonly OrderStatus[] = ['confirmed', 'cancelled'];

/** A priced order line. */
export interface PricedLine {
  readonly sku: string;
  readonly quantity: number;
  readonly priceCents: number;
}

/** An order as the API shows it. */
export interface Order {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: PricedLine[];
  readonly totalCents: number;
  readonly status: OrderStatus;
  readonly reason: string | null;
  readonly placedAt: string;
  readonly completedAt: string | null;
}

/** A problem with one field of a request, as the API reports it. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** Prices `items` from the catalog, or lists the lines whose SKU is unknown. */
export function priceLines(
  items: readonly { sku: string; quantity: number }[],
): { lines: PricedLine[]; totalCents: number } | { problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const lines = items.map((item, index) => {
    const product = findProduct(item.sku);
    if (product === undefined) {
      problems.push({
        field: `items.${index}.sku`,
        message: `unknown SKU "${item.sku}"; known: ${CATALOG.map((p) => p.sku).join(', ')}`,
      });
    }
    return { sku: item.sku, quantity: item.quantity, priceCents: product?.priceCents ?? 0 };
  });
  if (problems.length > 0) return { problems };
  return { lines, totalCents: lines.reduce((sum, line) => sum + line.quantity * line.priceCents, 0) };
}

/** A new order's fields. */
export interface NewOrder {
  readonly orderId: string;
  readonly idempotencyKey: string | undefined;
  readonly customerId: string;
  readonly items: readonly PricedLine[];
  readonly totalCents: number;
  readonly placedAtMs: number;
}

/**
 * Inserts a pending order. With an idempotency key already used, inserts nothing and returns the
 * order made the first time (`created: false`).
 */
export function createOrder(database: DatabaseSync, order: NewOrder): { created: boolean; order: Order } {
  if (order.idempotencyKey !== undefined) {
    const existing = database
      .prepare('SELECT order_id FROM orders WHERE idempotency_key = ?')
      .get(order.idempotencyKey) as { order_id: string } | undefined;
    if (existing !== undefined) return { created: false, order: findOrder(database, existing.order_id)! };
  }
  database
    .prepare(
      `INSERT INTO orders (order_id, idempotency_key, customer_id, items, total_cents, status, placed_at_ms)
       VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
    )
    .run(
      order.orderId,
      order.idempotencyKey ?? null,
      order.customerId,
      JSON.stringify(order.items),
      order.totalCents,
      order.placedAtMs,
    );
  return { created: true, order: findOrder(database, order.orderId)! };
}

/**
 * Moves `orderId` to `to` if it is in one of `from`, at `atMs` (the completion time of a terminal
 * step); returns the order after the step, or undefined if it was elsewhere (a duplicate or
 * out-of-order step: nothing changes).
 */
export function advance(
  database: DatabaseSync,
  orderId: string,
  from: readonly OrderStatus[],
  to: OrderStatus,
  reason?: string,
  atMs = Date.now(),
): Order | undefined {
  const terminal = TERMINAL_STATUSES.includes(to);
  const result = database
    .prepare(
      `UPDATE orders SET status = ?, reason = coalesce(?, reason), completed_at_ms = ?
       WHERE order_id = ? AND status IN (${from.map(() => '?').join(', ')})`,
    )
    .run(to, reason ?? null, terminal ? atMs : null, orderId, ...from);
  return Number(result.changes) === 1 ? findOrder(database, orderId) : undefined;
}

/** The order `orderId`, or undefined. */
export function findOrder(database: DatabaseSync, orderId: string): Order | undefined {
  const row = database.prepare('SELECT * FROM orders WHERE order_id = ?').get(orderId) as
    | OrderRow
    | undefined;
  return row === undefined ? undefined : toOrder(row);
}

/** Orders, newest first, optionally of one status; at most `limit`. */
export function listOrders(database: DatabaseSync, status: OrderStatus | undefined, limit: number): Order[] {
  const rows = (status === undefined
    ? database.prepare('SELECT * FROM orders ORDER BY placed_at_ms DESC LIMIT ?').all(limit)
    : database
        .prepare('SELECT * FROM orders WHERE status = ? ORDER BY placed_at_ms DESC LIMIT ?')
        .all(status, limit)) as unknown as OrderRow[];
  return rows.map(toOrder);
}

/** Orders per status. */
export function countByStatus(database: DatabaseSync): Record<OrderStatus, number> {
  const counts: Record<OrderStatus, number> = {
    pending: 0,
    reserved: 0,
    releasing: 0,
    confirmed: 0,
    cancelled: 0,
  };
  const rows = database.prepare('SELECT status, count(*) AS total FROM orders GROUP BY status').all() as {
    status: OrderStatus;
    total: number;
  }[];
  for (const row of rows) counts[row.status] = row.total;
  return counts;
}

interface OrderRow {
  order_id: string;
  customer_id: string;
  items: string;
  total_cents: number;
  status: OrderStatus;
  reason: string | null;
  placed_at_ms: number;
  completed_at_ms: number | null;
}

function toOrder(row: OrderRow): Order {
  return {
    orderId: row.order_id,
    customerId: row.customer_id,
    items: JSON.parse(row.items) as PricedLine[],
    totalCents: row.total_cents,
    status: row.status,
    reason: row.reason,
    placedAt: new Date(row.placed_at_ms).toISOString(),
    completedAt: row.completed_at_ms === null ? null : new Date(row.completed_at_ms).toISOString(),
  };
}
