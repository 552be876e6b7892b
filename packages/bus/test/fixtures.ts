/** Contracts shared by the bus tests. */
import { z } from 'zod';
import { defineCommand, defineEvent, defineQuery } from '../src/index.ts';

export const OrderCreated = defineEvent('OrderCreated', {
  topic: 'orders',
  schema: z.object({
    orderId: z.string().min(1),
    total: z.number().positive(),
    items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })).default([]),
  }),
  key: (order) => order.orderId,
});

export const InventoryReserved = defineEvent('InventoryReserved', {
  topic: 'inventory',
  schema: z.object({ orderId: z.string() }),
  key: (event) => event.orderId,
});

export const ReserveInventory = defineCommand('ReserveInventory', {
  schema: z.object({ orderId: z.string() }),
  key: (command) => command.orderId,
});

export const GetStock = defineQuery('GetStock', {
  schema: z.object({ sku: z.string() }),
  result: z.object({ sku: z.string(), available: z.number().int() }),
});

/** Resolves when `count` calls of the returned `hit` happened; rejects after `timeoutMs`. */
export function countdown(count: number, timeoutMs = 5000) {
  let remaining = count;
  let resolve: () => void = () => {};
  const done = new Promise<void>((resolveDone, reject) => {
    resolve = resolveDone;
    setTimeout(
      () => reject(new Error(`countdown: ${remaining} of ${count} hits missing after ${timeoutMs} ms`)),
      timeoutMs,
    ).unref();
  });
  return {
    done,
    hit() {
      remaining -= 1;
      if (remaining === 0) resolve();
    },
  };
}
