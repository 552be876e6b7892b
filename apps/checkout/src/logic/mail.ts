/**
 * The mail sink and the notification records, shared by the event-driven notification service and
 * the synchronous variant. An e-mail is a file `<orderId>.<kind>.eml` in the mail directory,
 * written atomically (temporary file, then rename): writing it again after a crash replaces it
 * with the same bytes, so a redelivered message never produces a second e-mail.
 */
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';

/** Tables of the notification service. */
export const NOTIFICATION_SCHEMA = `
  CREATE TABLE IF NOT EXISTS notification_customers (
    customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS notification_emails (
    order_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('confirmation', 'cancellation')),
    recipient TEXT NOT NULL,
    sent_at_ms INTEGER NOT NULL,
    PRIMARY KEY (order_id, kind));`;

/** A customer as the notification service knows them. */
export interface Recipient {
  readonly customerId: string;
  readonly name: string;
  readonly email: string;
}

/** An e-mail about how an order ended. */
export interface OrderEmail {
  readonly orderId: string;
  readonly kind: 'confirmation' | 'cancellation';
  readonly to: Recipient;
  /** Total for a confirmation, reason for a cancellation. */
  readonly detail: string;
}

/** Writes `email` to `mailDir` (idempotent: one file per order and kind). */
export function deliverEmail(mailDir: string, email: OrderEmail): void {
  mkdirSync(mailDir, { recursive: true });
  const name = `${email.orderId}.${email.kind}.eml`;
  const subject =
    email.kind === 'confirmation'
      ? `Your order ${email.orderId} is confirmed`
      : `Your order ${email.orderId} was cancelled`;
  const body = [
    `To: ${email.to.name} <${email.to.email}>`,
    'From: Herald Shop <orders@shop.example>',
    `Subject: ${subject}`,
    '',
    `Hello ${email.to.name},`,
    '',
    email.kind === 'confirmation'
      ? `we have your payment of ${email.detail}; your order is on its way.`
      : `we could not complete your order (${email.detail}); you have not been charged.`,
    '',
  ].join('\r\n');
  const temporary = join(mailDir, `.${name}.tmp`);
  writeFileSync(temporary, body);
  renameSync(temporary, join(mailDir, name));
}

/** Every e-mail file in `mailDir`, as `{orderId, kind}`. */
export function listMailbox(mailDir: string): { orderId: string; kind: string }[] {
  let names: string[];
  try {
    names = readdirSync(mailDir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.eml') && !name.startsWith('.'))
    .map((name) => {
      const [orderId, kind] = name.slice(0, -'.eml'.length).split('.') as [string, string];
      return { orderId, kind };
    });
}

/** Records that `email` was sent; returns false if this order already had this e-mail. */
export function recordEmail(database: DatabaseSync, email: OrderEmail): boolean {
  const result = database
    .prepare(
      'INSERT OR IGNORE INTO notification_emails (order_id, kind, recipient, sent_at_ms) VALUES (?, ?, ?, ?)',
    )
    .run(email.orderId, email.kind, email.to.email, Date.now());
  return Number(result.changes) === 1;
}

/** Remembers a customer (the latest registration wins). */
export function rememberRecipient(database: DatabaseSync, recipient: Recipient): void {
  database
    .prepare(
      `INSERT INTO notification_customers (customer_id, name, email) VALUES (?, ?, ?)
       ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name, email = excluded.email`,
    )
    .run(recipient.customerId, recipient.name, recipient.email);
}

/** The customer `customerId`, or undefined if not (yet) known. */
export function findRecipient(database: DatabaseSync, customerId: string): Recipient | undefined {
  const row = database
    .prepare('SELECT customer_id, name, email FROM notification_customers WHERE customer_id = ?')
    .get(customerId) as { customer_id: string; name: string; email: string } | undefined;
  return row === undefined ? undefined : { customerId: row.customer_id, name: row.name, email: row.email };
}

/** Formats cents as euros, e.g. `€42.10`. */
export function formatEuros(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}
