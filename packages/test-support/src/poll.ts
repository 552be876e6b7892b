/**
 * Waiting on a condition with a deadline: the one poll loop of Herald's tests. A condition wait is
 * not a sleep: it returns as soon as the condition holds, and fails with what it waited for (and
 * the condition's last error, if it threw) once the deadline passes.
 */
import assert from 'node:assert/strict';
import { withDeadline } from './deadline.ts';

/** How long {@link eventually} and {@link until} wait by default before failing: 15 s. */
export const POLL_TIMEOUT_MS_DEFAULT = 15_000;
/** How long they wait between two checks by default: 10 ms. */
export const POLL_INTERVAL_MS_DEFAULT = 10;

/** What a wait is for: a text, or a function called only when the wait fails (to show the state then). */
export type WaitDescription = string | (() => string);

function describe(what: WaitDescription): string {
  return typeof what === 'string' ? what : what();
}

function timedOut(timeoutMs: number, what: WaitDescription, lastError: unknown): never {
  const cause =
    lastError === undefined
      ? ''
      : `; the last check threw: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${describe(what)}${cause}`);
}

/**
 * Resolves once `condition()` holds, checking every `intervalMs` (default 10 ms); fails with an
 * `AssertionError` naming `what` after `timeoutMs` (default 15 s). A check that throws counts as
 * "not yet": its error is kept and shown in the failure if the deadline passes. An asynchronous
 * check that has not settled by the deadline fails the wait too.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: WaitDescription,
  timeoutMs: number = POLL_TIMEOUT_MS_DEFAULT,
  intervalMs: number = POLL_INTERVAL_MS_DEFAULT,
): Promise<void> {
  await until(condition, (held) => held, what, timeoutMs, intervalMs);
}

/**
 * Calls `read()` until its value satisfies `accept`, then resolves that value; checks every
 * `intervalMs` (default 10 ms) and fails with an `AssertionError` naming `what` (and the last
 * error `read` threw, if any) after `timeoutMs` (default 15 s).
 */
export async function until<T>(
  read: () => T | Promise<T>,
  accept: (value: T) => boolean,
  what: WaitDescription,
  timeoutMs: number = POLL_TIMEOUT_MS_DEFAULT,
  intervalMs: number = POLL_INTERVAL_MS_DEFAULT,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      // A check that never settles must not outlive the deadline either.
      const remainingMs = Math.max(0, Math.ceil(deadline - performance.now()));
      const value = await withDeadline(Promise.resolve().then(read), remainingMs, 'the check to settle');
      if (accept(value)) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) timedOut(timeoutMs, what, lastError);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
