/**
 * A handler's pipeline: the bus's middleware, the handler's, then the handler. The bus's own
 * `logging`, then its idempotency step when it has a store, then `validation` (as `createBus` puts
 * them), run as one function: same outcome and log lines as composing them, without a `next`
 * closure and an async function's promise and frame per layer and per message.
 */
import { compose, type MessageContext, type Middleware } from './context.ts';
import { isIdempotencyMiddleware } from './middleware/idempotency.ts';
import { logFailure, logging, logHandled } from './middleware/logging.ts';
import { validatedData, validation } from './middleware/validation.ts';

/**
 * Builds a registration's pipeline: built-in middleware, then the user's, then the handler. The
 * built-in `logging` and `validation` at its head run as one function ({@link builtInMiddleware}).
 */
export function pipeline(
  middleware: readonly Middleware[],
  handler: (data: unknown, context: MessageContext) => unknown,
): (context: MessageContext) => Promise<void> {
  const last = async (context: MessageContext): Promise<void> => {
    await handler(context.data, context);
  };
  if (middleware[0] !== logging) return compose(middleware, last);
  const dedup = isIdempotencyMiddleware(middleware[1]) ? middleware[1] : undefined;
  const after = dedup === undefined ? 1 : 2;
  const validating = middleware[after] === validation;
  const rest = middleware.slice(validating ? after + 1 : after);
  return builtInMiddleware(
    validating,
    rest.length === 0 ? (context) => handler(context.data, context) : compose(rest, last),
    dedup,
  );
}

/**
 * `logging` around (the idempotency step `dedup` when given, then `validation` when `validating`,
 * then) `rest`.
 */
export function builtInMiddleware(
  validating: boolean,
  rest: (context: MessageContext) => unknown,
  dedup?: Middleware,
): (context: MessageContext) => Promise<void> {
  const validateThenRest = async (context: MessageContext): Promise<void> => {
    if (validating) {
      const validated = validatedData(context);
      context.data = validated instanceof Promise ? await validated : validated;
    }
    await rest(context);
  };
  return async (context) => {
    const debug = context.logger.isLevelEnabled?.('debug') ?? true;
    const startedMs = debug ? performance.now() : 0;
    try {
      if (dedup !== undefined) await dedup(context, () => validateThenRest(context));
      else {
        // Inline, not validateThenRest: without a store, no second async frame per message.
        if (validating) {
          const validated = validatedData(context);
          context.data = validated instanceof Promise ? await validated : validated;
        }
        await rest(context);
      }
      if (debug) logHandled(context, startedMs);
    } catch (error) {
      logFailure(context, error);
      throw error;
    }
  };
}
