/**
 * The order as an event-sourced aggregate (CQRS): its state is the fold of its stream
 * `order-<orderId>` in the order service's event store; `GET /orders` reads the `orders` table,
 * a projection of those streams. The lifecycle is the one in orders.ts: `pending` on
 * `order.placed`, then one event per step (`order.reserved`, `order.releasing`,
 * `order.confirmed`, `order.cancelled`), decided only from the status the step starts at, so a
 * step asked for twice or late appends nothing.
 *
 * The events live in the service's SQLite file and are appended in the transaction of the step
 * (the `POST /orders` transaction, or the saga transition's), which also stages the messages the
 * step sends and saves the saga: events, messages and saga state commit together or not at all.
 */
import type { DatabaseSync } from 'node:sqlite';
import {
  decider,
  event,
  handleCommand,
  type Projection,
  type RecordedEvent,
  type StreamsInTransaction,
  sqliteEventStoreSchemaSql,
  sqliteStreams,
} from '@herald/eventstore';
import { defineEvent } from 'herald';
import { z } from 'zod';
import {
  advance,
  createOrder,
  type NewOrder,
  ORDER_SCHEMA,
  ORDER_STATUSES,
  type Order,
  type OrderStatus,
  TERMINAL_STATUSES,
} from './orders.ts';

/** Topic the aggregate's event contracts name; they are stored, never published on the bus. */
const TOPIC = 'order-events';
const Placed = defineEvent('order.placed', {
  topic: TOPIC,
  schema: z.object({
    orderId: z.string(),
    customerId: z.string(),
    items: z.array(z.object({ sku: z.string(), quantity: z.number().int(), priceCents: z.number().int() })),
    totalCents: z.number().int(),
    idempotencyKey: z.string().nullable(),
    placedAtMs: z.number().int(),
  }),
});
const Step = z.object({ reason: z.string().nullable(), atMs: z.number().int() });
const STEPS = {
  reserved: defineEvent('order.reserved', { topic: TOPIC, schema: Step }),
  releasing: defineEvent('order.releasing', { topic: TOPIC, schema: Step }),
  confirmed: defineEvent('order.confirmed', { topic: TOPIC, schema: Step }),
  cancelled: defineEvent('order.cancelled', { topic: TOPIC, schema: Step }),
} as const;
/** Every event contract of the aggregate (for stores that upcast on read). */
export const ORDER_EVENTS = [Placed, ...Object.values(STEPS)];

type Command =
  | { readonly kind: 'place'; readonly order: (typeof Placed)['schema']['_output'] }
  | {
      readonly kind: 'move';
      readonly from: OrderStatus;
      readonly to: Exclude<OrderStatus, 'pending'>;
      readonly reason?: string;
    };

/** The order's state: undefined before it is placed; the API's view of it otherwise. */
const orderDecider = decider<Command, Order | undefined>({
  initialState: () => undefined,
  evolve: (order, recorded) => {
    if (recorded.type === Placed.type) {
      const placed = recorded.data as (typeof Placed)['schema']['_output'];
      return {
        orderId: placed.orderId,
        customerId: placed.customerId,
        items: placed.items,
        totalCents: placed.totalCents,
        status: 'pending',
        reason: null,
        placedAt: new Date(placed.placedAtMs).toISOString(),
        completedAt: null,
      };
    }
    const { status, reason, atMs } = stepOf(recorded);
    const completedAt = TERMINAL_STATUSES.includes(status) ? new Date(atMs).toISOString() : null;
    return order === undefined ? order : { ...order, status, reason: reason ?? order.reason, completedAt };
  },
  decide: (command, order) => {
    if (command.kind === 'place') return order === undefined ? [event(Placed, command.order)] : [];
    if (order?.status !== command.from) return [];
    return [event(STEPS[command.to], { reason: command.reason ?? null, atMs: Date.now() })];
  },
});

/** What a step event says: the status its type names, the reason, and when. */
function stepOf(recorded: RecordedEvent): { status: OrderStatus; reason: string | null; atMs: number } {
  const { reason, atMs } = recorded.data as (typeof Step)['_output'];
  return { status: recorded.type.slice('order.'.length) as OrderStatus, reason, atMs };
}

const streamOf = (orderId: string) => `order-${orderId}`;

/** The order streams inside `tx`, a transaction open on the order service's database. */
export const orderStreams = (tx: DatabaseSync): StreamsInTransaction =>
  sqliteStreams(tx, { contracts: ORDER_EVENTS });

/**
 * The order service's tables: its events (the write model), the idempotency keys it has seen,
 * and the `orders` read model.
 */
export const ORDER_SERVICE_SCHEMA = `${sqliteEventStoreSchemaSql()}
  CREATE TABLE IF NOT EXISTS order_keys (idempotency_key TEXT PRIMARY KEY, order_id TEXT NOT NULL) WITHOUT ROWID;
  ${ORDER_SCHEMA}`;

/**
 * Places an order in `tx`, a transaction open on the order service's database. With an idempotency key already
 * used, appends nothing and returns the order placed the first time (`created: false`): the key
 * is claimed in `order_keys` in the same transaction as the order's first event.
 */
export async function placeOrder(
  tx: DatabaseSync,
  order: NewOrder,
): Promise<{ created: boolean; order: Order }> {
  const events = orderStreams(tx);
  if (order.idempotencyKey !== undefined) {
    const existing = tx
      .prepare('SELECT order_id FROM order_keys WHERE idempotency_key = ?')
      .get(order.idempotencyKey) as { order_id: string } | undefined;
    if (existing !== undefined)
      return { created: false, order: (await loadOrder(events, existing.order_id))! };
    tx.prepare('INSERT INTO order_keys (idempotency_key, order_id) VALUES (?, ?)').run(
      order.idempotencyKey,
      order.orderId,
    );
  }
  const placed = { ...order, items: [...order.items], idempotencyKey: order.idempotencyKey ?? null };
  const { state } = await handleCommand(events, streamOf(order.orderId), orderDecider, {
    kind: 'place',
    order: placed,
  });
  return { created: true, order: state! };
}

/** The order `orderId` as of `events` (folded from its stream), or undefined. */
export async function loadOrder(events: StreamsInTransaction, orderId: string): Promise<Order | undefined> {
  const stream = await events.readStream(streamOf(orderId));
  return stream.reduce(orderDecider.evolve, orderDecider.initialState());
}

/**
 * Moves `orderId` from `from` to `to` in `events` (an open transaction); returns the order after the
 * step, or undefined when it was elsewhere (nothing appended).
 */
export async function moveOrder(
  events: StreamsInTransaction,
  orderId: string,
  from: OrderStatus,
  to: Exclude<OrderStatus, 'pending'>,
  reason?: string,
): Promise<Order | undefined> {
  const result = await handleCommand(events, streamOf(orderId), orderDecider, {
    kind: 'move',
    from,
    to,
    reason,
  });
  return result.events.length === 0 ? undefined : result.state;
}

/**
 * The read model: the `orders` table (ORDER_SCHEMA in orders.ts) from the order streams, one row
 * per order. Its checkpoint commits with its rows, so it equals a replay from scratch.
 */
export const ordersProjection: Projection<DatabaseSync> = {
  name: 'orders',
  category: 'order',
  setup: (tx) => tx.exec(ORDER_SCHEMA),
  reset: (tx) => tx.exec('DELETE FROM orders'),
  apply: (tx, recorded) => {
    if (recorded.type === Placed.type) {
      const placed = recorded.data as (typeof Placed)['schema']['_output'];
      createOrder(tx, { ...placed, idempotencyKey: placed.idempotencyKey ?? undefined });
      return;
    }
    const { status, reason, atMs } = stepOf(recorded);
    advance(tx, recorded.stream.slice('order-'.length), ORDER_STATUSES, status, reason ?? undefined, atMs);
  },
};
