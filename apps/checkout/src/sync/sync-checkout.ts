/**
 * The synchronous variant of the checkout, for the benchmark: the order service calls inventory,
 * payment and notification over HTTP, in sequence, before it answers the client. Each service
 * runs the same logic as its event-driven twin (`../logic/*`) on its own SQLite database; only the
 * wiring differs. If a callee is down, the order fails and the client gets 503.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { uuidv7 } from 'herald';
import { PlaceOrderRequest, RegisterUserRequest } from '../contracts.ts';
import {
  badRequest,
  fieldProblems,
  type HttpResponse,
  type HttpServer,
  type Route,
  startHttpServer,
} from '../http.ts';
import { commit, defaultStock, INVENTORY_SCHEMA, release, reserve, seedStock } from '../logic/inventory.ts';
import {
  deliverEmail,
  findRecipient,
  formatEuros,
  NOTIFICATION_SCHEMA,
  type OrderEmail,
  recordEmail,
  rememberRecipient,
} from '../logic/mail.ts';
import { advance, createOrder, findOrder, ORDER_SCHEMA, priceLines } from '../logic/orders.ts';
import {
  charge,
  chargeLatencyMs,
  DEFAULT_PAYMENT_OPTIONS,
  PAYMENT_SCHEMA,
  type PaymentOptions,
} from '../logic/payment.ts';
import { sleep } from '../services/service.ts';

/** How long the order service waits for a callee. */
const CALL_TIMEOUT_MS = 5000;

/** Options of {@link startSyncCheckout}. */
export interface SyncCheckoutOptions {
  readonly dataDir: string;
  readonly payment?: Partial<PaymentOptions>;
}

/** A running synchronous checkout. */
export interface SyncCheckout {
  /** The order service's URL (`POST /orders`, `POST /users`). */
  readonly url: string;
  /** Takes the payment service down (its port refuses connections). */
  stopPayment(): Promise<void>;
  /** Brings the payment service back on the same port. */
  startPayment(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the four services, each on its own port. */
export async function startSyncCheckout(options: SyncCheckoutOptions): Promise<SyncCheckout> {
  mkdirSync(options.dataDir, { recursive: true });
  const payment = { ...DEFAULT_PAYMENT_OPTIONS, ...options.payment };
  const open = (name: string, schema: string) => {
    const database = new DatabaseSync(join(options.dataDir, `${name}.sqlite`));
    database.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; ${schema}`);
    return database;
  };
  const databases = {
    order: open('order', ORDER_SCHEMA),
    inventory: open('inventory', INVENTORY_SCHEMA),
    payment: open('payment', PAYMENT_SCHEMA),
    notification: open('notification', NOTIFICATION_SCHEMA),
  };
  seedStock(databases.inventory, defaultStock());
  const mailDir = join(options.dataDir, 'mail');
  const serve = (routes: Route[], port = 0) => startHttpServer(routes, { port, host: '127.0.0.1' });

  const inventory = await serve(inventoryRoutes(databases.inventory));
  const notification = await serve(notificationRoutes(databases.notification, mailDir));
  let paymentServer: HttpServer | undefined = await serve(paymentRoutes(databases.payment, payment));
  const paymentPort = Number(new URL(paymentServer.url).port);
  const urls = { inventory: inventory.url, payment: paymentServer.url, notification: notification.url };
  const order = await serve(orderRoutes(databases.order, urls));
  return {
    url: order.url,
    async stopPayment() {
      await paymentServer?.close();
      paymentServer = undefined;
    },
    async startPayment() {
      paymentServer ??= await serve(paymentRoutes(databases.payment, payment), paymentPort);
    },
    async stop() {
      await Promise.all([order.close(), inventory.close(), notification.close(), paymentServer?.close()]);
      for (const database of Object.values(databases)) database.close();
    },
  };
}

/** Runs `work` in one transaction (the logic functions are synchronous). */
function inTransaction<T>(database: DatabaseSync, work: () => T): T {
  database.exec('BEGIN IMMEDIATE');
  try {
    const value = work();
    database.exec('COMMIT');
    return value;
  } catch (error) {
    database.exec('ROLLBACK');
    throw error;
  }
}

function ok(body: unknown): HttpResponse {
  return { status: 200, body };
}

function inventoryRoutes(database: DatabaseSync): Route[] {
  type Body = { orderId: string; items: { sku: string; quantity: number }[] };
  return [
    {
      method: 'POST',
      path: '/reserve',
      handle: ({ body }) =>
        ok(inTransaction(database, () => reserve(database, (body as Body).orderId, (body as Body).items))),
    },
    {
      method: 'POST',
      path: '/release',
      handle: ({ body }) => ok(inTransaction(database, () => release(database, (body as Body).orderId))),
    },
    {
      method: 'POST',
      path: '/commit',
      handle: ({ body }) => ok(inTransaction(database, () => commit(database, (body as Body).orderId))),
    },
  ];
}

function paymentRoutes(database: DatabaseSync, options: PaymentOptions): Route[] {
  return [
    {
      method: 'POST',
      path: '/charge',
      handle: async ({ body }) => {
        const { orderId, amountCents } = body as { orderId: string; amountCents: number };
        await sleep(chargeLatencyMs(orderId, options));
        return ok(inTransaction(database, () => charge(database, orderId, amountCents, options)));
      },
    },
  ];
}

function notificationRoutes(database: DatabaseSync, mailDir: string): Route[] {
  return [
    {
      method: 'POST',
      path: '/customers',
      handle: ({ body }) => {
        rememberRecipient(database, body as { customerId: string; name: string; email: string });
        return ok({});
      },
    },
    {
      method: 'POST',
      path: '/send',
      handle: ({ body }) => {
        const { orderId, customerId, kind, detail } = body as Omit<OrderEmail, 'to'> & { customerId: string };
        const to = findRecipient(database, customerId);
        if (to === undefined) return { status: 404, body: { error: `no customer ${customerId}` } };
        const email = { orderId, kind, to, detail };
        deliverEmail(mailDir, email);
        inTransaction(database, () => recordEmail(database, email));
        return ok({});
      },
    },
  ];
}

function orderRoutes(
  database: DatabaseSync,
  urls: { inventory: string; payment: string; notification: string },
) {
  const call = async <T>(url: string, body: unknown): Promise<T> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/users',
      handle: async ({ body }) => {
        const parsed = RegisterUserRequest.safeParse(body);
        if (!parsed.success) return badRequest('invalid user', fieldProblems(parsed.error.issues));
        await call(`${urls.notification}/customers`, parsed.data);
        return { status: 201, body: parsed.data };
      },
    },
    {
      method: 'POST',
      path: '/orders',
      handle: async (request) => {
        const parsed = PlaceOrderRequest.safeParse(request.body);
        if (!parsed.success) return badRequest('invalid order', fieldProblems(parsed.error.issues));
        const priced = priceLines(parsed.data.items);
        if ('problems' in priced) return badRequest('invalid order', priced.problems);
        const key = request.headers['idempotency-key'];
        const { order } = inTransaction(database, () =>
          createOrder(database, {
            orderId: `o-${uuidv7()}`,
            idempotencyKey: typeof key === 'string' ? key : undefined,
            customerId: parsed.data.customerId,
            items: priced.lines,
            totalCents: priced.totalCents,
            placedAtMs: Date.now(),
          }),
        );
        try {
          return { status: 201, body: await completeOrder(order.orderId) };
        } catch (error) {
          return { status: 503, body: { error: `checkout failed: ${(error as Error).message}` } };
        }
      },
    },
  ];

  /** The synchronous saga: every step waits for the previous one. */
  const completeOrder = async (orderId: string) => {
    const order = findOrder(database, orderId)!;
    const items = order.items.map(({ sku, quantity }) => ({ sku, quantity }));
    const reservation = await call<{ reserved: boolean }>(`${urls.inventory}/reserve`, { orderId, items });
    const finish = async (status: 'confirmed' | 'cancelled', reason: string | undefined, detail: string) => {
      const done = inTransaction(database, () =>
        advance(database, orderId, ['pending', 'reserved'], status, reason),
      )!;
      const kind = status === 'confirmed' ? 'confirmation' : 'cancellation';
      await call(`${urls.notification}/send`, { orderId, customerId: order.customerId, kind, detail });
      return done;
    };
    if (!reservation.reserved) return finish('cancelled', 'out-of-stock', 'out-of-stock');
    inTransaction(database, () => advance(database, orderId, ['pending'], 'reserved'));
    let outcome: { approved: boolean };
    try {
      outcome = await call(`${urls.payment}/charge`, { orderId, amountCents: order.totalCents });
    } catch (error) {
      // Compensate, then fail the request: the caller has no order.
      await call(`${urls.inventory}/release`, { orderId });
      inTransaction(database, () =>
        advance(database, orderId, ['reserved'], 'cancelled', 'payment-unavailable'),
      );
      throw error;
    }
    if (!outcome.approved) {
      await call(`${urls.inventory}/release`, { orderId });
      return finish('cancelled', 'payment-declined', 'payment-declined');
    }
    await call(`${urls.inventory}/commit`, { orderId });
    return finish('confirmed', undefined, formatEuros(order.totalCents));
  };
  return routes;
}
