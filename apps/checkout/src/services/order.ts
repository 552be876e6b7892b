/**
 * The order service: the HTTP API (`POST /orders`, `GET /orders/:id`, `GET /orders?status=`), the
 * producer of `OrderCreated`, and the saga's orchestrator. It tracks each order from the events of
 * inventory and payment and sends the next command, or the compensation:
 *
 *   InventoryReserved → ProcessPayment;  PaymentProcessed → OrderConfirmed
 *   InventoryReservationFailed → OrderCancelled
 *   PaymentFailed → ReleaseInventory;  InventoryReleased → OrderCancelled
 */
import type { DatabaseSync } from 'node:sqlite';
import { uuidv7 } from 'herald';
import {
  InventoryReleased,
  InventoryReservationFailed,
  InventoryReserved,
  OrderCancelled,
  OrderConfirmed,
  OrderCreated,
  PaymentFailed,
  PaymentProcessed,
  PlaceOrderRequest,
  ProcessPayment,
  ReleaseInventory,
  ReserveInventory,
} from '../contracts.ts';
import { badRequest, fieldProblems, type HttpRequest, type HttpResponse } from '../http.ts';
import {
  advance,
  createOrder,
  findOrder,
  listOrders,
  ORDER_SCHEMA,
  type Order,
  type OrderStatus,
  priceLines,
} from '../logic/orders.ts';
import { applyOnce, type Outgoing, type ServiceDefinition, type ServiceRuntime } from './service.ts';

/** Longest accepted `Idempotency-Key` header. */
const IDEMPOTENCY_KEY_LENGTH_MAX = 200;
/** Most orders one `GET /orders` returns. */
const LIST_LIMIT_MAX = 1000;
const STATUSES: readonly OrderStatus[] = ['pending', 'reserved', 'releasing', 'confirmed', 'cancelled'];

/** The order service. */
export const orderService: ServiceDefinition = {
  name: 'order',
  schema: ORDER_SCHEMA,
  sends: [OrderCreated, ReserveInventory, ProcessPayment, ReleaseInventory, OrderConfirmed, OrderCancelled],
  register(bus) {
    const options = { group: 'order', concurrency: 64 };
    const step = (
      orderId: string,
      from: readonly OrderStatus[],
      to: OrderStatus,
      next: (order: Order) => Outgoing[],
      reason?: string,
    ) => {
      return (database: DatabaseSync): Outgoing[] => {
        const order = advance(database, orderId, from, to, reason);
        return order === undefined ? [] : next(order);
      };
    };
    bus.on(InventoryReserved, options, (event, context) =>
      applyOnce(context, step(event.orderId, ['pending'], 'reserved', paymentFor)),
    );
    bus.on(InventoryReservationFailed, options, (event, context) =>
      applyOnce(context, step(event.orderId, ['pending'], 'cancelled', cancellation, 'out-of-stock')),
    );
    bus.on(PaymentProcessed, options, (event, context) =>
      applyOnce(context, step(event.orderId, ['reserved'], 'confirmed', confirmation)),
    );
    bus.on(PaymentFailed, options, (event, context) =>
      applyOnce(context, step(event.orderId, ['reserved'], 'releasing', releaseFor, 'payment-declined')),
    );
    bus.on(InventoryReleased, options, (event, context) =>
      applyOnce(context, step(event.orderId, ['releasing'], 'cancelled', cancellation)),
    );
  },
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
  // Accepted means durable: the 202 goes out once the order and its two messages are committed
  // together; the outbox relay publishes them right after, and again after a crash.
  const { created, order } = await runtime.publisher.transaction<
    ReturnType<typeof createOrder>,
    DatabaseSync
  >(async (tx) => {
    const result = createOrder(tx, {
      orderId: `o-${uuidv7()}`,
      idempotencyKey,
      customerId: parsed.data.customerId,
      items: priced.lines,
      totalCents: priced.totalCents,
      placedAtMs,
    });
    if (!result.created) return result;
    const { orderId, customerId, items, totalCents, placedAt } = result.order;
    await tx.publish(OrderCreated, { orderId, customerId, items, totalCents, placedAt });
    await tx.send(ReserveInventory, {
      orderId,
      items: items.map(({ sku, quantity }) => ({ sku, quantity })),
    });
    return result;
  });
  return created
    ? { status: 202, body: order, headers: { location: `/orders/${order.orderId}` } }
    : { status: 200, body: order, headers: { 'idempotent-replayed': 'true' } };
}

function listRoute(runtime: ServiceRuntime, request: HttpRequest): HttpResponse {
  const status = request.query.get('status') ?? undefined;
  if (status !== undefined && !STATUSES.includes(status as OrderStatus)) {
    return badRequest('invalid query', [{ field: 'status', message: `one of ${STATUSES.join(', ')}` }]);
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

function paymentFor(order: Order): Outgoing[] {
  const data = { orderId: order.orderId, customerId: order.customerId, amountCents: order.totalCents };
  return [{ contract: ProcessPayment, data }];
}

function releaseFor(order: Order): Outgoing[] {
  return [{ contract: ReleaseInventory, data: { orderId: order.orderId } }];
}

function confirmation(order: Order): Outgoing[] {
  const { orderId, customerId, totalCents, placedAt } = order;
  return [{ contract: OrderConfirmed, data: { orderId, customerId, totalCents, placedAt } }];
}

function cancellation(order: Order): Outgoing[] {
  const { orderId, customerId, placedAt } = order;
  return [{ contract: OrderCancelled, data: { orderId, customerId, placedAt, reason: order.reason } }];
}
