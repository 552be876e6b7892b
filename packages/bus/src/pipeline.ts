/**
 * A handler's pipeline: the bus's middleware, the handler's, then the handler. The bus's own
 * `logging` at its head and `validation` (as `createBus` puts them, with whatever middleware sits
 * between them, such as the idempotency step) run as one function: same outcome and log lines as
 * composing them, without a `next` closure and an async function's promise and frame for those two
 * layers per message. Middleware between or after them is composed with `compose`, whatever it is.
 */
import { compose, type MessageContext, type Middleware } from './context.ts';
import { logFailure, logging, logHandled } from './middleware/logging.ts';
import { validatedData, validation } from './middleware/validation.ts';

/**
 * Builds a registration's pipeline: built-in middleware, then the user's, then the handler. The
 * built-in `logging` and `validation` run as one function ({@link builtInMiddleware}).
 */
export function pipeline(
  middleware: readonly Middleware[],
  handler: (data: unknown, context: MessageContext) => unknown,
): (context: MessageContext) => Promise<void> {
  const last = async (context: MessageContext): Promise<void> => {
    await handler(context.data, context);
  };
  if (middleware[0] !== logging) return compose(middleware, last);
  const validationAt = middleware.indexOf(validation, 1);
  const between = validationAt === -1 ? [] : middleware.slice(1, validationAt);
  const rest = middleware.slice(validationAt === -1 ? 1 : validationAt + 1);
  return builtInMiddleware(
    validationAt !== -1,
    rest.length === 0 ? (context) => handler(context.data, context) : compose(rest, last),
    between,
  );
}

/**
 * `logging` around (the middleware `between` when given, then `validation` when `validating`,
 * then) `rest`.
 */
export function builtInMiddleware(
  validating: boolean,
  rest: (context: MessageContext) => unknown,
  between: readonly Middleware[] = [],
): (context: MessageContext) => Promise<void> {
  const validateThenRest = async (context: MessageContext): Promise<void> => {
    if (validating) {
      const validated = validatedData(context);
      context.data = validated instanceof Promise ? await validated : validated;
    }
    await rest(context);
  };
  const inner = between.length === 0 ? undefined : compose(between, validateThenRest);
  return async (context) => {
    const debug = context.logger.isLevelEnabled?.('debug') ?? true;
    const startedMs = debug ? performance.now() : 0;
    try {
      if (inner !== undefined) await inner(context);
      else {
        // Inline, not validateThenRest: with nothing between, no second async frame per message.
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
