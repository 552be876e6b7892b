/**
 * Deadlines on promises. `withDeadline` is public API of `@herald/bus/testing` (and re-exported by
 * `@herald/conformance`), so its one implementation stays there; tests take it from here.
 */
export { withDeadline } from '@herald/bus/testing';
