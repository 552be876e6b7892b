/**
 * The checkout's invariants, checked from the services' own databases (read-only) and the mail
 * sink after a run has come to rest. Each check says whether it holds and, if not, why.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Checkout } from './app.ts';
import { EVENTS } from './contracts.ts';
import { type AuditVerification, verifyAuditLog } from './logic/audit-log.ts';
import { type StockLevel, stockLevels } from './logic/inventory.ts';
import { listMailbox } from './logic/mail.ts';
import { countByStatus, type PricedLine } from './logic/orders.ts';
import { readStats } from './services/analytics.ts';
import type { ServiceName } from './services/service.ts';

/** One checked invariant. */
export interface InvariantResult {
  readonly name: string;
  readonly holds: boolean;
  readonly detail: string;
}

/** Everything the checks read, for the report. */
export interface RunFacts {
  readonly orders: {
    total: number;
    confirmed: number;
    cancelled: number;
    outOfStock: number;
    declined: number;
    open: number;
  };
  readonly emails: { confirmations: number; cancellations: number; files: number };
  readonly stock: StockLevel[];
  /** Units sold per SKU according to the confirmed orders. */
  readonly soldByOrders: Record<string, number>;
  readonly audit: AuditVerification;
  readonly latencyMs: { toConfirm: number[]; toCancel: number[]; toEmail: number[] };
  readonly deadLettered: number;
}

/** Options of {@link checkInvariants}. */
export interface CheckOptions {
  /** Orders the load planned (each Idempotency-Key once): the order count must equal it. */
  readonly expectedOrders?: number;
}

const EVENT_TYPES = new Set(EVENTS.map((event) => event.type));

/** Reads the facts of a run and checks every invariant. */
export function checkInvariants(
  checkout: Checkout,
  options: CheckOptions = {},
): { facts: RunFacts; invariants: InvariantResult[] } {
  const facts = readFacts(checkout);
  const invariants: InvariantResult[] = [];
  const check = (name: string, holds: boolean, detail: string) => invariants.push({ name, holds, detail });
  const { orders, emails, stock, audit } = facts;
  const orderDb = database(checkout, 'order');
  const inventoryDb = database(checkout, 'inventory');

  check(
    'every accepted order completed',
    orders.open === 0 && (options.expectedOrders === undefined || orders.total === options.expectedOrders),
    `${orders.confirmed + orders.cancelled} of ${orders.total} orders confirmed or cancelled` +
      (options.expectedOrders === undefined ? '' : `, ${options.expectedOrders} planned`),
  );
  const keys = orderDb
    .prepare(
      'SELECT count(*) AS total, count(DISTINCT idempotency_key) AS distinctKeys, count(idempotency_key) AS keyed FROM orders',
    )
    .get() as { total: number; distinctKeys: number; keyed: number };
  check(
    'no duplicate orders',
    keys.keyed === keys.distinctKeys,
    `${keys.keyed} orders with an Idempotency-Key, ${keys.distinctKeys} distinct keys`,
  );
  const oversold = stock.filter(
    (level) => level.available < 0 || level.reserved < 0 || level.sold > level.initial,
  );
  check(
    'no oversell',
    oversold.length === 0,
    oversold.length === 0
      ? `no SKU went below zero (${stock.filter((level) => level.available === 0).length} sold out)`
      : `oversold: ${oversold.map((level) => level.sku).join(', ')}`,
  );
  const unbalanced = stock.filter(
    (level) => level.available + level.reserved + level.sold !== level.initial || level.reserved !== 0,
  );
  check(
    'stock conserved',
    unbalanced.length === 0,
    unbalanced.length === 0
      ? `available + reserved + sold = initial for ${stock.length} SKUs, nothing left reserved`
      : `off: ${unbalanced.map((level) => `${level.sku} ${level.available}+${level.reserved}+${level.sold}≠${level.initial}`).join(', ')}`,
  );
  const mismatched = stock.filter((level) => level.sold !== (facts.soldByOrders[level.sku] ?? 0));
  check(
    'sold stock matches confirmed orders',
    mismatched.length === 0,
    mismatched.length === 0
      ? `${stock.reduce((sum, level) => sum + level.sold, 0)} units sold = units in confirmed orders`
      : `differs for ${mismatched.map((level) => level.sku).join(', ')}`,
  );
  check(
    'exactly one e-mail per completed order',
    emailsMatch(checkout),
    `${emails.confirmations} confirmations for ${orders.confirmed} confirmed, ${emails.cancellations} cancellations for ${orders.cancelled} cancelled, ${emails.files} files in the mail sink`,
  );
  const held = inventoryDb
    .prepare("SELECT DISTINCT order_id FROM inventory_reservations WHERE state != 'sold'")
    .all() as { order_id: string }[];
  const stillHeld = inventoryDb
    .prepare("SELECT count(DISTINCT order_id) AS total FROM inventory_reservations WHERE state = 'reserved'")
    .get() as { total: number };
  const soldForCancelled = countSoldForCancelled(orderDb, inventoryDb);
  check(
    'every cancelled order released its reservation',
    stillHeld.total === 0 && soldForCancelled === 0,
    `${held.length} reservations released, ${stillHeld.total} still held, ${soldForCancelled} sold for cancelled orders`,
  );
  const payments = database(checkout, 'payment')
    .prepare(
      "SELECT count(*) AS total, sum(status = 'processed') AS processed, coalesce(sum(CASE WHEN status = 'processed' THEN amount_cents END), 0) AS amount FROM payments",
    )
    .get() as { total: number; processed: number | null; amount: number };
  const revenue = orderDb
    .prepare("SELECT coalesce(sum(total_cents), 0) AS total FROM orders WHERE status = 'confirmed'")
    .get() as { total: number };
  check(
    'each order charged once, every confirmed order paid',
    (payments.processed ?? 0) === orders.confirmed && payments.amount === revenue.total,
    `${payments.processed ?? 0} charges for ${orders.confirmed} confirmed orders, ${payments.total - (payments.processed ?? 0)} declined`,
  );
  check(
    'audit log: every event exactly once, in per-key order',
    audit.ok,
    audit.ok
      ? `${audit.entries} entries, hash chain intact, matches the ${audit.entries} events the services published`
      : auditProblems(audit),
  );
  const stats = readStats(database(checkout, 'analytics'));
  check(
    'analytics agrees with the orders',
    stats.confirmed === orders.confirmed &&
      stats.cancelled === orders.cancelled &&
      stats.revenueCents === revenue.total,
    `${stats.confirmed} confirmed, ${stats.cancelled} cancelled, revenue ${stats.revenueCents} cents`,
  );
  check(
    'no dead letters',
    facts.deadLettered === 0,
    `${facts.deadLettered} messages dead-lettered in this process`,
  );
  return { facts, invariants };
}

/** True once the run is at rest: nothing open, nothing unsent, every consumer caught up. */
export function isQuiescent(checkout: Checkout): boolean {
  const counts = countByStatus(database(checkout, 'order'));
  if (counts.pending + counts.reserved + counts.releasing > 0) return false;
  for (const outbox of checkout.outboxes.values()) if (outbox.unsentCount() > 0) return false;
  const terminal = counts.confirmed + counts.cancelled;
  const emails = database(checkout, 'notification')
    .prepare('SELECT count(*) AS total FROM notification_emails')
    .get() as {
    total: number;
  };
  if (emails.total < terminal) return false;
  const reserved = database(checkout, 'inventory')
    .prepare('SELECT coalesce(sum(reserved), 0) AS total FROM inventory_stock')
    .get() as { total: number };
  if (reserved.total > 0) return false;
  const stats = readStats(database(checkout, 'analytics'));
  if (stats.confirmed + stats.cancelled < terminal) return false;
  return auditedCount(checkout) >= publishedEventIds(checkout).size;
}

/** Entries in the audit log. */
export function auditedCount(checkout: Checkout): number {
  return (
    database(checkout, 'audit').prepare('SELECT count(*) AS total FROM audit_log').get() as { total: number }
  ).total;
}

function readFacts(checkout: Checkout): RunFacts {
  const orderDb = database(checkout, 'order');
  const counts = countByStatus(orderDb);
  const reasons = orderDb
    .prepare("SELECT reason, count(*) AS total FROM orders WHERE status = 'cancelled' GROUP BY reason")
    .all() as { reason: string; total: number }[];
  const byReason = (reason: string) => reasons.find((row) => row.reason === reason)?.total ?? 0;
  const notificationDb = database(checkout, 'notification');
  const emailRows = notificationDb
    .prepare('SELECT order_id, kind, sent_at_ms FROM notification_emails')
    .all() as {
    order_id: string;
    kind: string;
    sent_at_ms: number;
  }[];
  const orderRows = orderDb
    .prepare('SELECT order_id, status, items, placed_at_ms, completed_at_ms FROM orders')
    .all() as {
    order_id: string;
    status: string;
    items: string;
    placed_at_ms: number;
    completed_at_ms: number | null;
  }[];
  const soldByOrders: Record<string, number> = {};
  const placedAt = new Map<string, number>();
  const toConfirm: number[] = [];
  const toCancel: number[] = [];
  for (const row of orderRows) {
    placedAt.set(row.order_id, row.placed_at_ms);
    if (row.completed_at_ms !== null) {
      (row.status === 'confirmed' ? toConfirm : toCancel).push(row.completed_at_ms - row.placed_at_ms);
    }
    if (row.status !== 'confirmed') continue;
    for (const line of JSON.parse(row.items) as PricedLine[]) {
      soldByOrders[line.sku] = (soldByOrders[line.sku] ?? 0) + line.quantity;
    }
  }
  const toEmail = emailRows.map((row) => row.sent_at_ms - (placedAt.get(row.order_id) ?? row.sent_at_ms));
  return {
    orders: {
      total: orderRows.length,
      confirmed: counts.confirmed,
      cancelled: counts.cancelled,
      outOfStock: byReason('out-of-stock'),
      declined: byReason('payment-declined'),
      open: counts.pending + counts.reserved + counts.releasing,
    },
    emails: {
      confirmations: emailRows.filter((row) => row.kind === 'confirmation').length,
      cancellations: emailRows.filter((row) => row.kind === 'cancellation').length,
      files: listMailbox(checkout.mailDir).length,
    },
    stock: stockLevels(database(checkout, 'inventory')),
    soldByOrders,
    audit: verifyAuditLog(database(checkout, 'audit'), publishedEventIds(checkout)),
    latencyMs: { toConfirm, toCancel, toEmail },
    deadLettered: checkout.stats().deadLettered,
  };
}

/** Ids of every event any service staged in its outbox: what the audit log must hold. */
function publishedEventIds(checkout: Checkout): Set<string> {
  const ids = new Set<string>();
  for (const store of checkout.stores.values()) {
    for (const row of store.read.prepare('SELECT id, type FROM herald_outbox').iterate() as Iterable<{
      id: string;
      type: string;
    }>) {
      if (EVENT_TYPES.has(row.type)) ids.add(row.id);
    }
  }
  return ids;
}

/** Per order: one e-mail row and one file, of the kind its status calls for, and nothing else. */
function emailsMatch(checkout: Checkout): boolean {
  const expected = new Map<string, string>();
  const rows = database(checkout, 'order').prepare('SELECT order_id, status FROM orders').all() as {
    order_id: string;
    status: string;
  }[];
  for (const row of rows) {
    if (row.status === 'confirmed') expected.set(row.order_id, 'confirmation');
    if (row.status === 'cancelled') expected.set(row.order_id, 'cancellation');
  }
  const sameAsExpected = (sent: readonly { orderId: string; kind: string }[]) => {
    if (sent.length !== expected.size) return false;
    const seen = new Set<string>();
    for (const email of sent) {
      if (expected.get(email.orderId) !== email.kind || seen.has(email.orderId)) return false;
      seen.add(email.orderId);
    }
    return true;
  };
  const recorded = (
    database(checkout, 'notification').prepare('SELECT order_id, kind FROM notification_emails').all() as {
      order_id: string;
      kind: string;
    }[]
  ).map((row) => ({ orderId: row.order_id, kind: row.kind }));
  return sameAsExpected(recorded) && sameAsExpected(listMailbox(checkout.mailDir));
}

function countSoldForCancelled(orderDb: DatabaseSync, inventoryDb: DatabaseSync): number {
  const cancelled = new Set(
    (
      orderDb.prepare("SELECT order_id FROM orders WHERE status = 'cancelled'").all() as {
        order_id: string;
      }[]
    ).map((row) => row.order_id),
  );
  const sold = inventoryDb
    .prepare("SELECT DISTINCT order_id FROM inventory_reservations WHERE state = 'sold'")
    .all() as {
    order_id: string;
  }[];
  return sold.filter((row) => cancelled.has(row.order_id)).length;
}

function auditProblems(audit: AuditVerification): string {
  const problems = [];
  if (audit.brokenAtPosition !== null) problems.push(`hash chain broken at entry ${audit.brokenAtPosition}`);
  if (audit.duplicateIds.length > 0) problems.push(`${audit.duplicateIds.length} duplicate events`);
  if (audit.orderViolations.length > 0) problems.push(`${audit.orderViolations.length} out of per-key order`);
  if (audit.missingIds.length > 0) problems.push(`${audit.missingIds.length} published events missing`);
  if (audit.unexpectedIds.length > 0) problems.push(`${audit.unexpectedIds.length} events nobody published`);
  return problems.join('; ');
}

function database(checkout: Checkout, name: ServiceName): DatabaseSync {
  const store = checkout.stores.get(name);
  if (store === undefined) throw new Error(`the ${name} service is not running in this process`);
  return store.read;
}
