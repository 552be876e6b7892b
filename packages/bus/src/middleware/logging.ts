/** Logs each handled message with its outcome and duration. */
import type { Middleware } from '../context.ts';

/** Logs at debug on success and at warn on failure, with the message's coordinates. */
export const logging: Middleware = async (context, next) => {
  const startedMs = performance.now();
  const fields = {
    type: context.envelope.type,
    id: context.envelope.id,
    group: context.group,
    topic: context.message.topic,
    partition: context.message.partition,
    offset: context.message.offset,
    attempt: context.attempt,
  };
  try {
    await next();
    context.logger.debug('handled', { ...fields, durationMs: performance.now() - startedMs });
  } catch (error) {
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
    context.logger.warn('handler failed', { ...fields, error: name, reason: message });
    throw error;
  }
};
