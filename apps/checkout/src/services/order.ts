/**
 * The order service: the HTTP API (`POST /orders`, `GET /orders/:id`, `GET /orders?status=`), the
 * producer of `OrderCreated`, and the order saga (order-saga.ts), which runs on Herald's saga
 * runtime over this service's database: it reserves stock, charges, confirms or compensates, with
 * a payment timeout. `POST /orders` starts the saga in the order's own transaction.
 *
 * CQRS: an order is an event-sourced aggregate (logic/order-aggregate.ts) whose events are
 * appended in the same SQLite transaction as the outbox rows and the saga state (so events and
 * what they cause never part); the `GET` routes read the `orders` table, a projection of those
 * events kept by a projection runner whose checkpoint commits with its rows.
 */
import type { DatabaseSync } from 'node:sqlite';
import { openSqliteEventStore, runProjection, sqliteProjectionTarget } from '@herald/eventstore';
import { registerSaga, type SagaRuntime, sqliteSagaStore, uuidv7 } from 'herald';
import {
  ORDER_SAGA,
  OrderCancelled,
  OrderConfirmed,
  OrderCreated,
  PlaceOrderRequest,
  ProcessPayment,
  ReleaseInventory,
  ReserveInventory,
  VoidPayment,
} from '../contracts.ts';
import { badRequest, fieldProblems, type HttpRequest, type HttpResponse } from '../http.ts';
import {
  ORDER_EVENTS,
  ORDER_SERVICE_SCHEMA,
  ordersProjection,
  placeOrder as place,
} from '../logic/order-aggregate.ts';
import { findOrder, listOrders, ORDER_STATUSES, type OrderStatus, priceLines } from '../logic/orders.ts';
import { orderSaga } from './order-saga.ts';
import type { ServiceDefinition, ServiceRuntime } from './service.ts';

/** Longest accepted `Idempotency-Key` header. */
const IDEMPOTENCY_KEY_LENGTH_MAX = 200;
/** Most orders one `GET /orders` returns. */
const LIST_LIMIT_MAX = 1000;
/** The order saga registered by each runtime's (latest) bus, which `POST /orders` starts. */
const sagas = new WeakMap<ServiceRuntime, SagaRuntime<unknown>>();

/** The order service. */
export const orderService: ServiceDefinition = {
  name: 'order',
  schema: ORDER_SERVICE_SCHEMA,
  sends: [
    OrderCreated,
    ReserveInventory,
    ProcessPayment,
    ReleaseInventory,
    VoidPayment,
    OrderConfirmed,
    OrderCancelled,
    ORDER_SAGA.timeoutContract,
  ],
  register(bus, runtime) {
    // The timeout is a scheduled message: on a transport that cannot schedule, the saga waits for
    // the payment service however long it takes (as the checkout did before the timeout).
    const scheduling = bus.transport.features.scheduling;
    const canSchedule = scheduling !== undefined && scheduling.mode !== 'unsupported';
    const timeoutMs = canSchedule ? runtime.config.payment.timeoutMs : undefined;
    const saga = registerSaga(bus, orderSaga(timeoutMs), {
      store: sqliteSagaStore({ path: runtime.store.path }),
      concurrency: 64,
    });
    sagas.set(runtime, saga);
    return () => saga.close();
  },
  background: runProjectionOfOrders,
  routes: (runtime) => [
    { method: 'POST', path: '/orders', handle: (request) => placeOrder(runtime, request) },
    { method: 'GET', path: '/orders', handle: (request) => listRoute(runtime, request) },
    {
      method: 'GET',
      path: '/orders/:id',
      handle: (request) => {
        const order = findOrder(runtime.store.read, request.params.id!);
        return order === undefined
          ? { status: 404, body: { error: `no order ${request.params.id}` } }
          : { status: 200, body: order };
      },
    },
  ],
};

async function placeOrder(runtime: ServiceRuntime, request: HttpRequest): Promise<HttpResponse> {
  const parsed = PlaceOrderRequest.safeParse(request.body);
  if (!parsed.success) return badRequest('invalid order', fieldProblems(parsed.error.issues));
  const priced = priceLines(parsed.data.items);
  if ('problems' in priced) return badRequest('invalid order', priced.problems);
  const keyHeader = request.headers['idempotency-key'];
  const idempotencyKey = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
  if (
    idempotencyKey !== undefined &&
    (idempotencyKey.length === 0 || idempotencyKey.length > IDEMPOTENCY_KEY_LENGTH_MAX)
  ) {
    return badRequest(`Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_LENGTH_MAX} characters`);
  }
  const placedAtMs = Date.now();
  // Accepted means durable: the 202 goes out once the order, its event and the saga's start
  // (its state and ReserveInventory) are committed together; the outbox relay publishes the
  // messages right after, and again after a crash.
  const { created, order } = await runtime.publisher.transaction<
    Awaited<ReturnType<typeof place>>,
    DatabaseSync
  >(async (tx) => {
    const result = await place(tx, {
      orderId: `o-${uuidv7()}`,
      idempotencyKey,
      customerId: parsed.data.customerId,
      items: priced.lines,
      totalCents: priced.totalCents,
      placedAtMs,
    });
    if (!result.created) return result;
    const { orderId, customerId, items, totalCents, placedAt } = result.order;
    const event = { orderId, customerId, items, totalCents, placedAt };
    // Staged with its saga started, which saves the hop of the saga consuming it; without a
    // registered saga (never, once started) the saga starts when it consumes the event.
    const saga = sagas.get(runtime);
    await (saga === undefined ? tx.publish(OrderCreated, event) : saga.start(tx, OrderCreated, event));
    return result;
  });
  return created
    ? { status: 202, body: order, headers: { location: `/orders/${order.orderId}` } }
    : { status: 200, body: order, headers: { 'idempotent-replayed': 'true' } };
}

function listRoute(runtime: ServiceRuntime, request: HttpRequest): HttpResponse {
  const status = request.query.get('status') ?? undefined;
  if (status !== undefined && !ORDER_STATUSES.includes(status as OrderStatus)) {
    return badRequest('invalid query', [{ field: 'status', message: `one of ${ORDER_STATUSES.join(', ')}` }]);
  }
  const limit = Number(request.query.get('limit') ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    return badRequest('invalid query', [
      { field: 'limit', message: `an integer from 1 to ${LIST_LIMIT_MAX}` },
    ]);
  }
  const orders = listOrders(runtime.store.read, status as OrderStatus | undefined, limit);
  return { status: 200, body: { orders, count: orders.length } };
}

/**
 * Runs the `orders` read model's projection (catch-up, then live) until the returned function
 * stops it: its pages commit through the publisher's transactions, on the one connection that
 * writes the service's database.
 */
async function runProjectionOfOrders(runtime: ServiceRuntime): Promise<() => Promise<void>> {
  const events = await openSqliteEventStore({ path: runtime.store.path, contracts: ORDER_EVENTS });
  const target = sqliteProjectionTarget(runtime.store.read, {
    transaction: <T>(work: (tx: DatabaseSync) => Promise<T>) =>
      runtime.publisher.transaction<T, DatabaseSync>(work),
  });
  const runner = runProjection(events, target, ordersProjection);
  runner.done.catch((error: unknown) => {
    process.stderr.write(`order service: the orders projection stopped: ${String(error)}\n`);
  });
  return async () => {
    await runner.close();
    await events.close();
  };
}
