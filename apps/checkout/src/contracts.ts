/**
 * The checkout's contracts: every event (a past-tense fact) and command (an imperative) the
 * services exchange, each with its zod schema. The HTTP API validates requests with the same
 * building blocks, so a request the API accepts is a payload the bus accepts.
 *
 * Keys: everything about one order is keyed by its order id, so one order's messages are
 * consumed in order; users are keyed by customer id. Stock needs no SKU key: the inventory
 * service applies each reservation in one SQLite transaction, which serialises them.
 */
import type { DatabaseSync } from 'node:sqlite';
import { type CommandContract, defineCommand, defineEvent, defineSaga, type EventContract } from 'herald';
import { z } from 'zod';

/** A customer id such as `c-007`. */
export const CustomerId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ or -, at most 64');
/** One line of an order as a client sends it. */
export const OrderLine = z.object({
  sku: z.string().min(1).max(64),
  quantity: z.number().int().positive().max(1000),
});
/** One line of an order once priced from the catalog. */
export const PricedLine = OrderLine.extend({ priceCents: z.number().int().nonnegative() });
/** A line of stock moved for an order. */
export const StockLine = OrderLine;

/** Body of `POST /orders`. */
export const PlaceOrderRequest = z.object({
  customerId: CustomerId,
  items: z.array(OrderLine).min(1).max(50),
});
/** Body of `POST /users`. */
export const RegisterUserRequest = z.object({
  customerId: CustomerId,
  name: z.string().min(1).max(200),
  email: z.email(),
});

/** Why an order was cancelled. */
export const CancelReason = z.enum(['out-of-stock', 'payment-declined', 'payment-timeout']);
/** Which e-mail a customer got. */
export const EmailKind = z.enum(['confirmation', 'cancellation']);

// Events -----------------------------------------------------------------------------------

/** A customer joined; the notification service keeps its own copy of the directory from it. */
export const UserRegistered = defineEvent('UserRegistered', {
  topic: 'users',
  schema: RegisterUserRequest,
  key: (user) => user.customerId,
});

/** The order service accepted an order (it is durable from here on). */
export const OrderCreated = defineEvent('OrderCreated', {
  topic: 'orders',
  schema: z.object({
    orderId: z.string(),
    customerId: CustomerId,
    items: z.array(PricedLine).min(1),
    totalCents: z.number().int().nonnegative(),
    placedAt: z.iso.datetime(),
  }),
  key: (order) => order.orderId,
});

/** Stock for every line of the order is held for it. */
export const InventoryReserved = defineEvent('InventoryReserved', {
  topic: 'inventory',
  schema: z.object({ orderId: z.string(), items: z.array(StockLine) }),
  key: (event) => event.orderId,
});

/** At least one line could not be held; nothing was reserved. */
export const InventoryReservationFailed = defineEvent('InventoryReservationFailed', {
  topic: 'inventory',
  schema: z.object({ orderId: z.string(), shortSkus: z.array(z.string()).min(1) }),
  key: (event) => event.orderId,
});

/** A reservation was given back to available stock (compensation). */
export const InventoryReleased = defineEvent('InventoryReleased', {
  topic: 'inventory',
  schema: z.object({ orderId: z.string(), items: z.array(StockLine) }),
  key: (event) => event.orderId,
});

/** A confirmed order's reservation became sold stock. */
export const InventoryCommitted = defineEvent('InventoryCommitted', {
  topic: 'inventory',
  schema: z.object({ orderId: z.string(), items: z.array(StockLine) }),
  key: (event) => event.orderId,
});

/** The customer was charged. */
export const PaymentProcessed = defineEvent('PaymentProcessed', {
  topic: 'payments',
  schema: z.object({ orderId: z.string(), paymentId: z.string(), amountCents: z.number().int() }),
  key: (event) => event.orderId,
});

/** The charge was declined; nothing was charged. */
export const PaymentFailed = defineEvent('PaymentFailed', {
  topic: 'payments',
  schema: z.object({ orderId: z.string(), reason: z.string() }),
  key: (event) => event.orderId,
});

/** The order is paid and its stock sold: the happy end of the saga. */
export const OrderConfirmed = defineEvent('OrderConfirmed', {
  topic: 'orders',
  schema: z.object({
    orderId: z.string(),
    customerId: CustomerId,
    totalCents: z.number().int().nonnegative(),
    placedAt: z.iso.datetime(),
  }),
  key: (event) => event.orderId,
});

/** The order will not be fulfilled; any reservation was released first. */
export const OrderCancelled = defineEvent('OrderCancelled', {
  topic: 'orders',
  schema: z.object({
    orderId: z.string(),
    customerId: CustomerId,
    reason: CancelReason,
    placedAt: z.iso.datetime(),
  }),
  key: (event) => event.orderId,
});

/** The customer was told how their order ended. */
export const EmailSent = defineEvent('EmailSent', {
  topic: 'notifications',
  schema: z.object({ orderId: z.string(), customerId: CustomerId, kind: EmailKind, to: z.email() }),
  key: (event) => event.orderId,
});

// Commands ---------------------------------------------------------------------------------

/** Hold stock for every line of an order, all or nothing. */
export const ReserveInventory = defineCommand('ReserveInventory', {
  schema: z.object({ orderId: z.string(), items: z.array(StockLine).min(1) }),
  key: (command) => command.orderId,
});

/** Charge the customer for an order. */
export const ProcessPayment = defineCommand('ProcessPayment', {
  schema: z.object({ orderId: z.string(), customerId: CustomerId, amountCents: z.number().int().positive() }),
  key: (command) => command.orderId,
});

/** Give an order's reservation back (compensation after a declined payment). */
export const ReleaseInventory = defineCommand('ReleaseInventory', {
  schema: z.object({ orderId: z.string() }),
  key: (command) => command.orderId,
});

/**
 * Void an order's payment (compensation after a payment timeout): refunds a charge already made,
 * or makes a charge that has not happened yet fail.
 */
export const VoidPayment = defineCommand('VoidPayment', {
  schema: z.object({ orderId: z.string() }),
  key: (command) => command.orderId,
});

/** Where an order's saga is: the order's status while it is open. */
export const OrderSagaState = z.object({
  status: z.enum(['pending', 'reserved', 'releasing', 'confirmed', 'cancelled']),
});

/**
 * The order saga, without its transitions (services/order-saga.ts adds them): defined here so that
 * its timeout command is among the contracts every bus knows, and the relaying buses schedule it.
 */
export const ORDER_SAGA = defineSaga<typeof OrderSagaState, DatabaseSync>({
  name: 'order',
  state: OrderSagaState,
});

/** Every event contract, in the order the audit lists topics. */
export const EVENTS: readonly EventContract[] = [
  UserRegistered,
  OrderCreated,
  InventoryReserved,
  InventoryReservationFailed,
  InventoryReleased,
  InventoryCommitted,
  PaymentProcessed,
  PaymentFailed,
  OrderConfirmed,
  OrderCancelled,
  EmailSent,
];

/** Every command contract. */
export const COMMANDS: readonly CommandContract[] = [
  ReserveInventory,
  ProcessPayment,
  ReleaseInventory,
  VoidPayment,
  ORDER_SAGA.timeoutContract,
];

/** Every contract, for buses that must recognise messages they do not handle. */
export const CONTRACTS: readonly (EventContract | CommandContract)[] = [...EVENTS, ...COMMANDS];

/** Topics that carry events (what the audit log records). */
export const EVENT_TOPICS: readonly string[] = [...new Set(EVENTS.map((event) => event.topic))];
