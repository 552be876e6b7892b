/** Upcasts the received payload to the contract's current version, then validates it. */
import type { MessageContext, Middleware } from '../context.ts';
import { validateNow } from '../schema.ts';
import { upcast } from '../upcast.ts';

/**
 * Upcasts and validates `context.data`. A payload that fails the schema throws a
 * `ValidationError`, which skips retries and dead-letters the message.
 */
export const validation: Middleware = async (context, next) => {
  const validated = validatedData(context);
  context.data = validated instanceof Promise ? await validated : validated;
  await next();
};

/**
 * `context.data` upcast to the contract's version and validated: the value, or a promise of it
 * when the schema validates asynchronously. Throws (or rejects with) a `ValidationError`.
 */
export function validatedData(context: MessageContext): unknown {
  const { contract, envelope } = context;
  const current = upcast(contract, envelope.dataversion, context.data);
  return validateNow(contract.schema, current, `received "${contract.type}" ${envelope.id}`);
}
