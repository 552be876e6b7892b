/**
 * A handler's pipeline: the bus's middleware, the handler's, then the handler. The bus's own
 * `logging` at its head and `validation` (as `createBus` puts them, with whatever middleware sits
 * between them, such as the idempotency step) run as one function: same outcome and log lines as
 * composing them, without a `next` closure and an async function's promise and frame for those two
 * layers per message. Middleware between or after them is composed with `compose`, whatever it is.
 */
import { compose, isThenable, type MessageContext, type Middleware } from './context.ts';
import { dedupRuns } from './middleware/idempotency.ts';
import { logFailure, logging, logHandled } from './middleware/logging.ts';
import { validatedData, validation } from './middleware/validation.ts';

/**
 * Runs a handler's pipeline for one message: `undefined` when it finished synchronously (the
 * handler returned no thenable and no step awaited), else a promise of its end. A synchronous
 * failure is thrown, an asynchronous one rejects. The dispatcher skips the handler's deadline and
 * every promise of the run when it gets `undefined`: a run that ended before returning cannot
 * overrun its timeout.
 */
export type PipelineRun = (context: MessageContext) => Promise<void> | undefined;

/**
 * Builds a registration's pipeline: built-in middleware, then the user's, then the handler. The
 * built-in `logging` and `validation` run as one function ({@link builtInMiddleware}).
 */
export function pipeline(
  middleware: readonly Middleware[],
  handler: (data: unknown, context: MessageContext) => unknown,
): PipelineRun {
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
 * then) `rest`. With nothing between, it runs synchronously as far as it can: a schema that
 * validates synchronously and a handler that returns no thenable finish the run before it returns
 * (`undefined`), with the same log lines and errors as the composed middleware, which awaited each
 * step (awaiting a value that is not a thenable only waits a microtask).
 */
export function builtInMiddleware(
  validating: boolean,
  rest: (context: MessageContext) => unknown,
  between: readonly Middleware[] = [],
): PipelineRun {
  const dedupRun = between.length === 1 ? dedupRuns.get(between[0]!) : undefined;
  if (dedupRun !== undefined) {
    // The bus's own idempotency step between them: logging, it and validation in one async
    // function (see dedupRuns), with the same log lines, errors and order of steps.
    const inner = validating ? (context: MessageContext) => validateThen(context, rest) : rest;
    return (context) => {
      const debug = context.logger.isLevelEnabled?.('debug') ?? true;
      return dedupRun(context, inner, debug, debug ? performance.now() : 0);
    };
  }
  if (between.length > 0) {
    // Validation runs after the middleware between, so it moves into the composed rest, and the
    // run below (logging only) settles that rest's promise.
    const validateThenRest = async (context: MessageContext): Promise<void> => {
      if (validating) {
        const validated = validatedData(context);
        context.data = validated instanceof Promise ? await validated : validated;
      }
      await rest(context);
    };
    return builtInMiddleware(false, compose(between, validateThenRest));
  }
  return (context) => {
    const debug = context.logger.isLevelEnabled?.('debug') ?? true;
    const startedMs = debug ? performance.now() : 0;
    try {
      if (validating) {
        const validated = validatedData(context);
        if (validated instanceof Promise) return finishAsync(context, validated, rest, debug, startedMs);
        context.data = validated;
      }
      const result = rest(context);
      if (isThenable(result)) return settleAsync(context, result, debug, startedMs);
      if (debug) logHandled(context, startedMs);
    } catch (error) {
      logFailure(context, error);
      throw error;
    }
    return undefined;
  };
}

/**
 * `validation`, then `rest`: what `rest` returns, or a promise of it when the schema validates
 * asynchronously; a synchronous validation failure is thrown (the caller awaits it in a `try`).
 */
function validateThen(context: MessageContext, rest: (context: MessageContext) => unknown): unknown {
  const validated = validatedData(context);
  if (validated instanceof Promise) return restAfter(context, validated, rest);
  context.data = validated;
  return rest(context);
}

/** `rest` once an asynchronous validation gave the message's data. */
function restAfter(
  context: MessageContext,
  validated: Promise<unknown>,
  rest: (context: MessageContext) => unknown,
): Promise<unknown> {
  return validated.then((data) => {
    context.data = data;
    return rest(context);
  });
}

/** The rest of a run whose schema validates asynchronously: settled and logged as {@link settleAsync}. */
function finishAsync(
  context: MessageContext,
  validated: Promise<unknown>,
  rest: (context: MessageContext) => unknown,
  debug: boolean,
  startedMs: number,
): Promise<void> {
  return settleAsync(context, restAfter(context, validated, rest), debug, startedMs);
}

/** The end of a run whose handler returned a thenable. */
async function settleAsync(
  context: MessageContext,
  result: PromiseLike<unknown>,
  debug: boolean,
  startedMs: number,
): Promise<void> {
  try {
    await result;
    if (debug) logHandled(context, startedMs);
  } catch (error) {
    logFailure(context, error);
    throw error;
  }
}
