/**
 * The live view of `npm start`: a progress bar on stderr (redrawn in place on a TTY, a line every
 * two seconds otherwise) and, on stdout, a sample of orders as they finish, read from the order
 * service's table of orders. Colours follow `styleText`: on for a TTY, off with NO_COLOR.
 */
import { styleText } from 'node:util';
import type { Checkout } from './app.ts';
import { auditedCount } from './invariants.ts';
import type { LoadProgress } from './load.ts';
import { countByStatus } from './logic/orders.ts';

/** How often the view refreshes, in milliseconds. */
const REFRESH_MS = 250;
/** Without a TTY, how often a progress line is printed, in milliseconds. */
const PLAIN_PROGRESS_MS = 2000;
const BAR_WIDTH = 24;
/** How often finished orders are sampled onto stdout, in milliseconds. */
const FEED_MS = 1000;

/** Shows progress until stopped. */
export class LiveView {
  readonly #checkout: Checkout;
  readonly #total: number;
  readonly #tty = process.stderr.isTTY === true;
  #load: LoadProgress = { sent: 0, accepted: 0, replayed: 0, failed: 0 };
  #timer: NodeJS.Timeout | undefined;
  #lastCompletedMs = 0;
  #lastPlainMs = 0;
  #lastFeedMs = 0;
  readonly #startMs = performance.now();

  constructor(checkout: Checkout, totalOrders: number) {
    this.#checkout = checkout;
    this.#total = totalOrders;
  }

  /** Updates the load's counters (called by the load generator). */
  setLoad(progress: LoadProgress): void {
    this.#load = { ...progress };
  }

  start(): void {
    this.#timer = setInterval(() => this.#refresh(), REFRESH_MS);
  }

  /** Stops and clears the bar. */
  stop(): void {
    clearInterval(this.#timer);
    this.#refresh(true);
    if (this.#tty) process.stderr.write('\n');
  }

  #refresh(final = false): void {
    const orders = this.#checkout.stores.get('order')!.read;
    if (final || performance.now() - this.#lastFeedMs >= FEED_MS) {
      this.#lastFeedMs = performance.now();
      this.#printFinished(orders);
    }
    const counts = countByStatus(orders);
    const done = counts.confirmed + counts.cancelled;
    const emails = this.#count('notification', 'SELECT count(*) AS total FROM notification_emails');
    const known = this.#load.accepted + this.#load.replayed;
    const filled = Math.round((Math.min(done, this.#total) / Math.max(1, this.#total)) * BAR_WIDTH);
    const seconds = (performance.now() - this.#startMs) / 1000;
    const text =
      `accepted=${known}/${this.#total} completed=${done} confirmed=${counts.confirmed} ` +
      `cancelled=${counts.cancelled} emails=${emails} audited=${auditedCount(this.#checkout)} t=${seconds.toFixed(1)}s`;
    if (this.#tty) {
      const bar =
        styleText('green', '█'.repeat(filled), { stream: process.stderr }) + '░'.repeat(BAR_WIDTH - filled);
      process.stderr.write(`\r\x1b[2K[${bar}] ${text}`);
    } else if (final || performance.now() - this.#lastPlainMs >= PLAIN_PROGRESS_MS) {
      this.#lastPlainMs = performance.now();
      process.stderr.write(`progress ${text}\n`);
    }
  }

  /** Prints the latest confirmed and the latest cancelled order since the last refresh. */
  #printFinished(orders: import('node:sqlite').DatabaseSync): void {
    const rows = orders
      .prepare(
        `SELECT order_id, customer_id, status, reason, total_cents, items, placed_at_ms, completed_at_ms FROM orders
         WHERE completed_at_ms > ? ORDER BY completed_at_ms`,
      )
      .all(this.#lastCompletedMs) as {
      order_id: string;
      customer_id: string;
      status: string;
      reason: string | null;
      total_cents: number;
      items: string;
      placed_at_ms: number;
      completed_at_ms: number;
    }[];
    if (rows.length === 0) return;
    this.#lastCompletedMs = rows[rows.length - 1]!.completed_at_ms;
    const samples = [
      rows.findLast((row) => row.status === 'confirmed'),
      rows.findLast((row) => row.status === 'cancelled'),
    ];
    const lines = samples
      .filter((row) => row !== undefined)
      .map((row) => {
        const took = `${row.completed_at_ms - row.placed_at_ms} ms`.padStart(8);
        const id = `${row.order_id.slice(0, 6)}…${row.order_id.slice(-6)}`;
        const lineCount = (JSON.parse(row.items) as unknown[]).length;
        const what =
          row.status === 'confirmed'
            ? styleText('green', '✔ confirmed')
            : styleText('yellow', `✖ cancelled (${row.reason})`);
        return `  ${id}  ${row.customer_id}  ${lineCount} line(s)  €${(row.total_cents / 100).toFixed(2).padStart(8)}  ${took}  ${what}`;
      });
    const others = rows.length - lines.length;
    const tail = others > 0 ? styleText('dim', `  … and ${others} more`) : '';
    if (this.#tty) process.stderr.write('\r\x1b[2K');
    process.stdout.write(`${lines.join('\n')}\n${tail ? `${tail}\n` : ''}`);
  }

  #count(service: 'notification', sql: string): number {
    return (this.#checkout.stores.get(service)!.read.prepare(sql).get() as { total: number }).total;
  }
}
