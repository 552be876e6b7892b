/** Upcasts the received payload to the contract's current version, then validates it. */
import type { Middleware } from '../context.ts';
import { validate } from '../schema.ts';
import { upcast } from '../upcast.ts';

/**
 * Upcasts and validates `context.data`. A payload that fails the schema throws a
 * `ValidationError`, which skips retries and dead-letters the message.
 */
export const validation: Middleware = async (context, next) => {
  const { contract, envelope } = context;
  const current = upcast(contract, envelope.dataversion, context.data);
  context.data = await validate(contract.schema, current, `received "${contract.type}" ${envelope.id}`);
  await next();
};
