/**
 * Stock keeping, shared by the event-driven inventory service and the synchronous variant. Every
 * function is synchronous and runs inside the caller's transaction, so a reservation is checked
 * and applied atomically: two orders can never both take the last unit.
 *
 * Per SKU, `available + reserved + sold` never changes (conservation); CHECK constraints make a
 * negative count (an oversell) impossible to commit.
 */
import type { DatabaseSync } from 'node:sqlite';
import { CATALOG } from '../catalog.ts';

/** Tables of the inventory. */
export const INVENTORY_SCHEMA = `
  CREATE TABLE IF NOT EXISTS inventory_stock (
    sku TEXT PRIMARY KEY,
    initial INTEGER NOT NULL,
    available INTEGER NOT NULL CHECK (available >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    sold INTEGER NOT NULL CHECK (sold >= 0));
  CREATE TABLE IF NOT EXISTS inventory_reservations (
    order_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    state TEXT NOT NULL CHECK (state IN ('reserved', 'released', 'sold')),
    PRIMARY KEY (order_id, sku));`;

/** A SKU and a quantity. */
export interface StockLine {
  readonly sku: string;
  readonly quantity: number;
}

/** Stock of one SKU. */
export interface StockLevel {
  readonly sku: string;
  readonly initial: number;
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
}

/** Outcome of {@link reserve}. */
export type ReserveOutcome =
  | { readonly reserved: true; readonly items: StockLine[] }
  | { readonly reserved: false; readonly shortSkus: string[] };

/** Seeds each catalog SKU once (a restart keeps the stock it had). */
export function seedStock(database: DatabaseSync, stock: ReadonlyMap<string, number> = defaultStock()): void {
  const insert = database.prepare(
    'INSERT OR IGNORE INTO inventory_stock (sku, initial, available, reserved, sold) VALUES (?, ?, ?, 0, 0)',
  );
  for (const [sku, units] of stock) insert.run(sku, units, units);
}

/** Initial stock of every catalog product. */
export function defaultStock(): Map<string, number> {
  return new Map(CATALOG.map((product) => [product.sku, product.initialStock]));
}

/**
 * Holds every line of `orderId`, or nothing if any line is short. Lines of one SKU are summed.
 * Reserving an order that already holds a reservation returns what it holds (idempotent).
 */
export function reserve(
  database: DatabaseSync,
  orderId: string,
  items: readonly StockLine[],
): ReserveOutcome {
  const held = reservationsOf(database, orderId);
  if (held.length > 0) return { reserved: true, items: held.map(({ sku, quantity }) => ({ sku, quantity })) };
  const wanted = mergeLines(items);
  const level = database.prepare('SELECT available FROM inventory_stock WHERE sku = ?');
  const shortSkus = wanted
    .filter((line) => {
      const row = level.get(line.sku) as { available: number } | undefined;
      return row === undefined || row.available < line.quantity;
    })
    .map((line) => line.sku);
  if (shortSkus.length > 0) return { reserved: false, shortSkus };
  const take = database.prepare(
    'UPDATE inventory_stock SET available = available - ?, reserved = reserved + ? WHERE sku = ?',
  );
  const record = database.prepare(
    "INSERT INTO inventory_reservations (order_id, sku, quantity, state) VALUES (?, ?, ?, 'reserved')",
  );
  for (const line of wanted) {
    take.run(line.quantity, line.quantity, line.sku);
    record.run(orderId, line.sku, line.quantity);
  }
  return { reserved: true, items: wanted };
}

/** Returns an order's held stock to available. Returns the lines released (empty if none were held). */
export function release(database: DatabaseSync, orderId: string): StockLine[] {
  return settle(database, orderId, 'released', 'available');
}

/** Turns an order's held stock into sold stock. Returns the lines sold (empty if none were held). */
export function commit(database: DatabaseSync, orderId: string): StockLine[] {
  return settle(database, orderId, 'sold', 'sold');
}

/** Every SKU's stock, by SKU. */
export function stockLevels(database: DatabaseSync): StockLevel[] {
  return database
    .prepare('SELECT sku, initial, available, reserved, sold FROM inventory_stock ORDER BY sku')
    .all() as unknown as StockLevel[];
}

function settle(
  database: DatabaseSync,
  orderId: string,
  state: 'released' | 'sold',
  column: 'available' | 'sold',
): StockLine[] {
  const held = reservationsOf(database, orderId).filter((line) => line.state === 'reserved');
  const move = database.prepare(
    `UPDATE inventory_stock SET reserved = reserved - ?, ${column} = ${column} + ? WHERE sku = ?`,
  );
  const mark = database.prepare('UPDATE inventory_reservations SET state = ? WHERE order_id = ? AND sku = ?');
  for (const line of held) {
    move.run(line.quantity, line.quantity, line.sku);
    mark.run(state, orderId, line.sku);
  }
  return held.map(({ sku, quantity }) => ({ sku, quantity }));
}

function reservationsOf(database: DatabaseSync, orderId: string) {
  return database
    .prepare('SELECT sku, quantity, state FROM inventory_reservations WHERE order_id = ? ORDER BY sku')
    .all(orderId) as unknown as (StockLine & { state: string })[];
}

function mergeLines(items: readonly StockLine[]): StockLine[] {
  const bySku = new Map<string, number>();
  for (const line of items) bySku.set(line.sku, (bySku.get(line.sku) ?? 0) + line.quantity);
  return [...bySku].sort(([a], [b]) => a.localeCompare(b)).map(([sku, quantity]) => ({ sku, quantity }));
}
