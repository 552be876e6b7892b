/**
 * The broker's internal invariants (offsets handed out grow, a stored position never passes the
 * log's end, a group's generation only grows). On in production, as the log's: a broken one stops
 * the operation with an `InvariantError` instead of storing or delivering a wrong state.
 */
import { InvariantError } from '@herald/errors';

/**
 * Throws an `InvariantError` naming `@herald/broker` and `statement` unless `condition` holds;
 * `statement` says what should be true. The message is built only on failure.
 */
export function invariant(condition: unknown, statement: string): asserts condition {
  if (!condition) throw new InvariantError(`@herald/broker: ${statement}`);
}
