/** Logs each handled message with its outcome and duration. */
import type { MessageContext, Middleware } from '../context.ts';

/**
 * Logs at debug on success and at warn on failure, with the message's coordinates. When the
 * logger says debug is off (`logger.isLevelEnabled?.('debug') === false`), a success costs neither a
 * clock read nor a field object: this runs for every message.
 */
export const logging: Middleware = async (context, next) => {
  const debug = context.logger.isLevelEnabled?.('debug') ?? true;
  const startedMs = debug ? performance.now() : 0;
  try {
    await next();
    if (debug) logHandled(context, startedMs);
  } catch (error) {
    logFailure(context, error);
    throw error;
  }
};

/** The debug line of a handled message; `startedMs` is the `performance.now()` its run started. */
export function logHandled(context: MessageContext, startedMs: number): void {
  context.logger.debug({ ...fieldsOf(context), durationMs: performance.now() - startedMs }, 'handled');
}

/** The warning of a failed handler run. */
export function logFailure(context: MessageContext, error: unknown): void {
  const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
  context.logger.warn({ ...fieldsOf(context), error: name, reason: message }, 'handler failed');
}

/** The message's coordinates (all read-only in the context, so the same before and after `next`). */
function fieldsOf(context: MessageContext) {
  return {
    type: context.envelope.type,
    id: context.envelope.id,
    group: context.group,
    topic: context.message.topic,
    partition: context.message.partition,
    offset: context.message.offset,
    attempt: context.attempt,
  };
}
