/**
 * The broker's internal invariants (offsets handed out grow, a stored position never passes the
 * log's end, a group's generation only grows). On in production, as the log's: a broken one stops
 * the operation with an `InvariantError` instead of storing or delivering a wrong state.
 */
import { assertInvariant } from '@herald/errors';

/** Throws `InvariantError` of `@herald/broker` unless `condition` holds; `statement` says what should be true. */
export function invariant(condition: unknown, statement: string): asserts condition {
  assertInvariant(condition, '@herald/broker', statement);
}
