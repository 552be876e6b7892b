/**
 * Assertions for state that must never go wrong, on in production. A broken invariant means a bug
 * in Herald (or a caller misusing an internal API), not a condition to handle: it throws an
 * {@link InvariantError}, deliberately not a `HeraldError`, so no retry or error-mapping path
 * treats it as an expected failure.
 */

/** The stable code every {@link InvariantError} carries. */
export const INVARIANT_VIOLATED = 'HERALD_INVARIANT_VIOLATED';

/**
 * Thrown by {@link invariant}: Herald's own bookkeeping is wrong. Not a `HeraldError` (the style
 * rule: programmer errors are plain `Error`s), but typed all the same, by class and by `code`, so
 * tests and crash reports can tell it from other failures.
 */
export class InvariantError extends Error {
  /** Always {@link INVARIANT_VIOLATED}. */
  readonly code: typeof INVARIANT_VIOLATED = INVARIANT_VIOLATED;

  /** `message` names the invariant (what should have held), without the "invariant violated" prefix. */
  constructor(message: string) {
    super(`invariant violated: ${message} (a bug in Herald: please report it with this stack trace)`);
    this.name = 'InvariantError';
  }
}

/**
 * Throws an {@link InvariantError} naming `message` unless `condition` holds. Always on: keep the
 * condition cheap (a comparison, a field read) and `message` a literal, so a hot path builds no
 * string per call; where the message needs values, write `if (!ok) throw new InvariantError(...)`.
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
