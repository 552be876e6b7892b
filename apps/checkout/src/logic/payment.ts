/**
 * The payment gateway stand-in, shared by the event-driven payment service and the synchronous
 * variant: a charge takes a configurable time and a configurable share is declined. Decisions are
 * a hash of the order id and a seed, so a retried charge of one order gets the same answer.
 */
import type { DatabaseSync } from 'node:sqlite';

/** Behaviour of the simulated gateway. */
export interface PaymentOptions {
  /** Share of charges declined, 0…1 (default 0.1). */
  readonly declineRate: number;
  /** Shortest and longest time a charge takes (uniform, per order), in milliseconds. */
  readonly latencyMsMin: number;
  readonly latencyMsMax: number;
  /** Seed of the per-order decisions. */
  readonly seed: number;
  /**
   * How long the order saga waits for a payment before it cancels the order and voids the payment
   * (1 ms…1 day; default 5 minutes, far beyond any outage the benchmark stages).
   */
  readonly timeoutMs: number;
}

/** Defaults: 10 % declined, 20–60 ms per charge, orders cancelled after 5 minutes without a payment. */
export const DEFAULT_PAYMENT_OPTIONS: PaymentOptions = {
  declineRate: 0.1,
  latencyMsMin: 20,
  latencyMsMax: 60,
  seed: 1,
  timeoutMs: 300_000,
};

/** Tables of the payment service. */
export const PAYMENT_SCHEMA = `
  CREATE TABLE IF NOT EXISTS payments (
    order_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('processed', 'failed', 'voided')),
    reason TEXT,
    processed_at_ms INTEGER NOT NULL);`;

/** Outcome of a charge. */
export type ChargeOutcome =
  | { readonly approved: true; readonly paymentId: string; readonly amountCents: number }
  | { readonly approved: false; readonly reason: string };

/** How long the gateway takes for `orderId`, in milliseconds. */
export function chargeLatencyMs(orderId: string, options: PaymentOptions): number {
  const spread = options.latencyMsMax - options.latencyMsMin;
  return options.latencyMsMin + Math.round(unitHash(`latency:${options.seed}:${orderId}`) * spread);
}

/**
 * Records the charge of `orderId` once: a second call returns the first outcome (never charges
 * twice). Runs inside the caller's transaction.
 */
export function charge(
  database: DatabaseSync,
  orderId: string,
  amountCents: number,
  options: PaymentOptions,
): ChargeOutcome {
  const existing = database
    .prepare('SELECT payment_id, amount_cents, status, reason FROM payments WHERE order_id = ?')
    .get(orderId) as { payment_id: string; amount_cents: number; status: string; reason: string } | undefined;
  if (existing !== undefined) {
    return existing.status === 'processed'
      ? { approved: true, paymentId: existing.payment_id, amountCents: existing.amount_cents }
      : { approved: false, reason: existing.reason };
  }
  const declined = unitHash(`decline:${options.seed}:${orderId}`) < options.declineRate;
  const paymentId = `pay-${orderId}`;
  const reason = declined ? 'card declined by issuer' : null;
  database
    .prepare(
      'INSERT INTO payments (order_id, payment_id, amount_cents, status, reason, processed_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
    )
    .run(orderId, paymentId, amountCents, declined ? 'failed' : 'processed', reason, Date.now());
  return declined ? { approved: false, reason: reason! } : { approved: true, paymentId, amountCents };
}

/**
 * Voids the payment of `orderId` once (the order saga's compensation after a payment timeout): a
 * processed charge is refunded (status `voided`), and an order not charged yet gets a `voided` row,
 * so a charge that arrives later is refused. A declined charge stays as it is. Runs inside the
 * caller's transaction.
 */
export function voidPayment(database: DatabaseSync, orderId: string): void {
  database
    .prepare(
      `INSERT INTO payments (order_id, payment_id, amount_cents, status, reason, processed_at_ms)
       VALUES (?, ?, 0, 'voided', 'payment timed out', ?)
       ON CONFLICT (order_id) DO UPDATE SET status = 'voided', reason = 'payment timed out'
       WHERE status = 'processed'`,
    )
    .run(orderId, `pay-${orderId}`, Date.now());
}

/** A number in [0, 1) from `text` (FNV-1a, 32 bits). */
export function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 2 ** 32;
}
