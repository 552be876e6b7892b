/** The helper that builds an event to append, typed by its contract. */
import type { EventContract, InputOf } from '@herald/bus';
import type { EventToAppend } from './types.ts';

/**
 * Builds an {@link EventToAppend}, typing `data` by the contract.
 *
 * @example
 * await store.appendToStream('order-1', [event(OrderPlaced, { orderId: 'o-1', total: 42 })], { expectedVersion: 0 });
 */
export function event<C extends EventContract>(
  contract: C,
  data: InputOf<C>,
  options: { readonly id?: string; readonly metadata?: Readonly<Record<string, string>> } = {},
): EventToAppend<C> {
  return { contract, data, ...options };
}
