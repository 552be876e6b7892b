/** Upcasts the received payload to the contract's current version, then validates it. */
import type { Middleware } from '../context.ts';
import { validateNow } from '../schema.ts';
import { upcast } from '../upcast.ts';

/**
 * Upcasts and validates `context.data`. A payload that fails the schema throws a
 * `ValidationError`, which skips retries and dead-letters the message.
 */
export const validation: Middleware = async (context, next) => {
  const { contract, envelope } = context;
  const current = upcast(contract, envelope.dataversion, context.data);
  const validated = validateNow(contract.schema, current, `received "${contract.type}" ${envelope.id}`);
  context.data = validated instanceof Promise ? await validated : validated;
  await next();
};
