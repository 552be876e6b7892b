/**
 * Internal invariants that stay on in production. A broken invariant is a bug in Herald, not a
 * condition a caller handles: it is not a {@link HeraldError} and has no code. It throws rather
 * than let a wrong state be stored, acknowledged or handed to a client.
 */

/** Thrown by {@link assertInvariant} when a state Herald guarantees internally does not hold: a bug. */
export class InvariantError extends Error {
  /** The package whose invariant broke (`@herald/broker`). */
  readonly owner: string;
  /** The invariant that does not hold, as a statement of what should be true. */
  readonly invariant: string;

  constructor(owner: string, invariant: string) {
    super(`${owner} invariant violated: ${invariant}; this is a bug in Herald, please report it`);
    this.name = 'InvariantError';
    this.owner = owner;
    this.invariant = invariant;
  }
}

/**
 * Throws an {@link InvariantError} of `owner` unless `condition` holds. `invariant` states what
 * should be true ("offsets handed out grow"). Cheap checks only: it runs in production.
 */
export function assertInvariant(condition: unknown, owner: string, invariant: string): asserts condition {
  if (!condition) throw new InvariantError(owner, invariant);
}
