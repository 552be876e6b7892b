/**
 * The built-in load: customers register, then orders arrive at a fixed rate (open loop: the next
 * order goes out on schedule whether or not earlier ones were answered). Orders are derived from a
 * seed, and each carries an `Idempotency-Key` from its index, so re-running the same load against
 * the same data directory (after a kill -9) re-sends every order and the API returns the ones it
 * already has instead of taking them twice.
 */
import { CATALOG } from './catalog.ts';

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Base URL of the API. */
  readonly url: string;
  readonly orders: number;
  /** Orders sent per second. */
  readonly ratePerSecond: number;
  readonly customers: number;
  readonly seed: number;
  /** Called after each answer. */
  readonly onProgress?: (progress: LoadProgress) => void;
}

/** Where the load is. */
export interface LoadProgress {
  sent: number;
  /** Answered 202: a new order. */
  accepted: number;
  /** Answered 200: the order already existed (a re-sent Idempotency-Key). */
  replayed: number;
  /** Answered 4xx, 5xx, or no answer. */
  failed: number;
}

/** What the load did. */
export interface LoadResult extends LoadProgress {
  /** HTTP accept latency of each new order, in milliseconds. */
  readonly acceptLatenciesMs: number[];
  readonly durationMs: number;
  /** First failure messages (at most 5). */
  readonly failures: string[];
}

/** One planned order. */
export interface PlannedOrder {
  readonly idempotencyKey: string;
  readonly body: { customerId: string; items: { sku: string; quantity: number }[] };
}

/** Orders in flight at most: the open loop waits beyond this rather than exhausting sockets. */
const IN_FLIGHT_MAX = 512;
/** Share of order lines that ask for a scarce product. */
const SCARCE_LINE_SHARE = 0.06;

const FIRST_NAMES = [
  'Ada',
  'Alan',
  'Grace',
  'Edsger',
  'Barbara',
  'Donald',
  'Margaret',
  'Linus',
  'Radia',
  'Ken',
];
const LAST_NAMES = [
  'Lovelace',
  'Turing',
  'Hopper',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Hamilton',
  'Torvalds',
  'Perlman',
];

/** A small seeded PRNG (mulberry32): the same seed plans the same orders. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The customer ids of a load: `c-001`, `c-002`… */
export function customerIds(customers: number): string[] {
  return Array.from({ length: customers }, (_, index) => `c-${String(index + 1).padStart(3, '0')}`);
}

/** Plans `orders` orders from `customers` customers. */
export function planOrders(seed: number, orders: number, customers: number): PlannedOrder[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const common = CATALOG.filter((product) => !product.scarce);
  const scarce = CATALOG.filter((product) => product.scarce);
  const ids = customerIds(customers);
  return Array.from({ length: orders }, (_, index) => {
    const lines = 1 + Math.floor(next() * 3);
    const items = Array.from({ length: lines }, () => ({
      sku: (next() < SCARCE_LINE_SHARE ? pick(scarce) : pick(common)).sku,
      quantity: 1 + Math.floor(next() * 2),
    }));
    return { idempotencyKey: `load-${seed}-${index}`, body: { customerId: pick(ids), items } };
  });
}

/** Registers the load's customers (idempotent: a known customer answers 200). */
export async function registerCustomers(url: string, customers: number): Promise<void> {
  await Promise.all(
    customerIds(customers).map(async (customerId, index) => {
      const name = `${FIRST_NAMES[index % FIRST_NAMES.length]} ${LAST_NAMES[index % LAST_NAMES.length]}`;
      const response = await fetch(`${url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customerId, name, email: `${customerId}@customers.example` }),
      });
      if (!response.ok)
        throw new Error(`registering ${customerId}: HTTP ${response.status} ${await response.text()}`);
    }),
  );
}

/** Sends the planned orders at `ratePerSecond` and resolves once every one is answered. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const planned = planOrders(options.seed, options.orders, options.customers);
  const progress: LoadProgress = { sent: 0, accepted: 0, replayed: 0, failed: 0 };
  const acceptLatenciesMs: number[] = [];
  const failures: string[] = [];
  const startMs = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (const [index, order] of planned.entries()) {
    const dueMs = startMs + (index * 1000) / options.ratePerSecond;
    const waitMs = dueMs - performance.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    while (inFlight.size >= IN_FLIGHT_MAX) await Promise.race(inFlight);
    progress.sent += 1;
    const request = placeOrder(options.url, order).then(
      ({ status, latencyMs, text }) => {
        if (status === 202) {
          progress.accepted += 1;
          acceptLatenciesMs.push(latencyMs);
        } else if (status === 200) {
          progress.replayed += 1;
        } else {
          progress.failed += 1;
          if (failures.length < 5) failures.push(`HTTP ${status}: ${text.slice(0, 200)}`);
        }
        options.onProgress?.(progress);
      },
      (error: unknown) => {
        progress.failed += 1;
        if (failures.length < 5) failures.push(String(error));
        options.onProgress?.(progress);
      },
    );
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  return { ...progress, acceptLatenciesMs, failures, durationMs: performance.now() - startMs };
}

async function placeOrder(url: string, order: PlannedOrder) {
  const sentMs = performance.now();
  const response = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': order.idempotencyKey },
    body: JSON.stringify(order.body),
  });
  const text = await response.text();
  return { status: response.status, latencyMs: performance.now() - sentMs, text };
}
