/**
 * `@herald/errors`: the root of every error Herald throws on purpose. Each is a
 * {@link HeraldError} with a stable {@link HeraldErrorCode}, a `retriable` flag and an optional
 * `cause`, and a message that says what went wrong and what to do. Match on `code` (or on the
 * class), never on messages. See README.md for the table of every code.
 *
 * @example
 * ```ts
 * import { HeraldError } from '@herald/errors';
 *
 * try {
 *   await bus.publish(OrderCreated, order);
 * } catch (error) {
 *   if (error instanceof HeraldError && error.retriable) scheduleRetry();
 *   else throw error;
 * }
 * ```
 */
export {
  BUS_ERROR_CODES,
  CLI_ERROR_CODES,
  ERROR_CODES,
  type HeraldErrorCode,
  isErrorCode,
  KAFKA_PROTOCOL_ERROR_CODES,
  LOG_ERROR_CODES,
} from './codes.ts';
export { HeraldError, type HeraldErrorOptions, isHeraldError } from './herald-error.ts';
export { INVARIANT_VIOLATED, InvariantError, invariant } from './invariant.ts';
