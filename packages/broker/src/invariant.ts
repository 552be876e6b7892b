/**
 * The broker's internal invariants (offsets handed out grow, a stored position never passes the
 * log's end, a group's generation only grows). On in production, as the log's: a broken one stops
 * the operation with an `InvariantError` instead of storing or delivering a wrong state.
 */
import { InvariantError } from '@herald/errors';

/**
 * Throws an `InvariantError` naming `@herald/broker` and `statement` unless `condition` holds;
 * `statement` says what should be true. On a path run per message, test the condition first and
 * call {@link broken}, so a statement with values in it is not built every time.
 */
export function invariant(condition: unknown, statement: string): asserts condition {
  if (!condition) broken(statement);
}

/** Throws the `InvariantError` of a broken invariant; `statement` says what should be true. */
export function broken(statement: string): never {
  throw new InvariantError(`@herald/broker: ${statement}`);
}
