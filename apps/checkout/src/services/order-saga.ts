/**
 * The order saga (Herald's `defineSaga`): reserve stock, charge, confirm — or compensate. Each
 * transition also appends the order's step to its event stream (order-aggregate.ts) in the same
 * transaction:
 *
 *   OrderCreated → ReserveInventory   (run by POST /orders in the order's transaction: sagas.start)
 *   InventoryReserved → ProcessPayment, payment timeout;   PaymentProcessed → OrderConfirmed
 *   InventoryReservationFailed → OrderCancelled (out-of-stock)
 *   PaymentFailed → compensate ReleaseInventory (payment-declined)
 *   payment timeout → compensate ReleaseInventory and VoidPayment (payment-timeout)
 *   InventoryReleased → OrderCancelled
 *
 * A message for a saga that moved on (a late payment after the timeout) changes nothing.
 */
import type { DatabaseSync } from 'node:sqlite';
import { type SagaContext, type SagaTransition, sagaMessage } from 'herald';
import {
  InventoryReleased,
  InventoryReservationFailed,
  InventoryReserved,
  ORDER_SAGA,
  OrderCancelled,
  OrderConfirmed,
  OrderCreated,
  type OrderSagaState,
  PaymentFailed,
  PaymentProcessed,
  ProcessPayment,
  ReleaseInventory,
  ReserveInventory,
  VoidPayment,
} from '../contracts.ts';
import { moveOrder, orderStreams } from '../logic/order-aggregate.ts';
import type { Order, OrderStatus } from '../logic/orders.ts';

type State = (typeof OrderSagaState)['_output'];
type Context = SagaContext<DatabaseSync>;

/** The order saga; `paymentTimeoutMs` undefined runs it without the timeout (transports without scheduling). */
export function orderSaga(paymentTimeoutMs: number | undefined) {
  const byOrder = (message: { orderId: string }) => message.orderId;
  /** Moves saga and order from `from` to `to` (else: not this saga's message now) with what `then` sends. */
  const move = async (
    context: Context,
    state: State,
    from: OrderStatus,
    to: Exclude<OrderStatus, 'pending'>,
    then: (order: Order) => Omit<SagaTransition<State>, 'state'>,
    reason?: string,
  ): Promise<SagaTransition<State> | undefined> => {
    if (state.status !== from) return undefined;
    const order = await moveOrder(orderStreams(context.transaction), context.sagaId, from, to, reason);
    return order === undefined ? undefined : { ...then(order), state: { status: to } };
  };
  return ORDER_SAGA.startedBy(OrderCreated, byOrder, (order) => ({
    state: { status: 'pending' },
    send: [
      sagaMessage(ReserveInventory, {
        orderId: order.orderId,
        items: order.items.map(({ sku, quantity }) => ({ sku, quantity })),
      }),
    ],
  }))
    .on(InventoryReserved, byOrder, (_event, state, context) =>
      move(context, state, 'pending', 'reserved', (order) => ({
        send: [
          sagaMessage(ProcessPayment, {
            orderId: order.orderId,
            customerId: order.customerId,
            amountCents: order.totalCents,
          }),
        ],
        ...(paymentTimeoutMs === undefined ? {} : { timeout: { afterMs: paymentTimeoutMs } }),
      })),
    )
    .on(InventoryReservationFailed, byOrder, (_event, state, context) =>
      move(context, state, 'pending', 'cancelled', cancelled, 'out-of-stock'),
    )
    .on(PaymentProcessed, byOrder, (_event, state, context) =>
      move(context, state, 'reserved', 'confirmed', (order) => {
        const { orderId, customerId, totalCents, placedAt } = order;
        return {
          send: [sagaMessage(OrderConfirmed, { orderId, customerId, totalCents, placedAt })],
          complete: 'confirmed',
        };
      }),
    )
    .on(PaymentFailed, byOrder, (_event, state, context) =>
      move(
        context,
        state,
        'reserved',
        'releasing',
        () => ({ compensate: [release(context)] }),
        'payment-declined',
      ),
    )
    .onTimeout((_nothing, state, context) =>
      move(
        context,
        state,
        'reserved',
        'releasing',
        () => ({
          compensate: [
            release(context),
            { name: 'void-payment', send: [sagaMessage(VoidPayment, { orderId: context.sagaId })] },
          ],
        }),
        'payment-timeout',
      ),
    )
    .on(InventoryReleased, byOrder, (_event, state, context) =>
      move(context, state, 'releasing', 'cancelled', cancelled),
    );
}

function release(context: Context) {
  return { name: 'release-inventory', send: [sagaMessage(ReleaseInventory, { orderId: context.sagaId })] };
}

function cancelled(order: Order): Omit<SagaTransition<State>, 'state'> {
  const { orderId, customerId, placedAt } = order;
  const reason = order.reason as 'out-of-stock' | 'payment-declined' | 'payment-timeout';
  return {
    send: [sagaMessage(OrderCancelled, { orderId, customerId, placedAt, reason })],
    complete: 'cancelled',
  };
}
