/**
 * Turns a publish's `deliverAt` / `delayMs` into one time in ms since the epoch, or refuses it
 * with a {@link ScheduleError} that says what to pass instead.
 */
import { ScheduleError } from '../errors.ts';

/** The scheduling part of a publish's options. */
export interface ScheduleRequest {
  /** When to deliver: a `Date` or ms since the epoch. A time in the past means now. */
  readonly deliverAt?: Date | number;
  /** Deliver this many ms from now (0 or less means now). */
  readonly delayMs?: number;
}

/**
 * The delivery time `request` asks for, clamped up to `nowMs` (a past time is due at once), or
 * undefined when it asks for none. Throws `ScheduleError`: `SCHEDULE_OPTIONS_CONFLICT` for both
 * options, `SCHEDULE_INVALID_TIME` for NaN, an infinite value or an invalid `Date`,
 * `SCHEDULE_BEYOND_HORIZON` past `nowMs + horizonMsMax`.
 */
export function deliverAtMs(
  request: ScheduleRequest,
  nowMs: number,
  horizonMsMax: number,
): number | undefined {
  const { deliverAt, delayMs } = request;
  if (deliverAt === undefined && delayMs === undefined) return undefined;
  if (deliverAt !== undefined && delayMs !== undefined) {
    throw new ScheduleError(
      'SCHEDULE_OPTIONS_CONFLICT',
      'publish: both deliverAt and delayMs were given; pass one of them',
    );
  }
  let atMs: number;
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs)) {
      throw new ScheduleError(
        'SCHEDULE_INVALID_TIME',
        `publish: delayMs must be a finite number of milliseconds, got ${String(delayMs)}`,
      );
    }
    atMs = nowMs + delayMs;
  } else {
    atMs = deliverAt instanceof Date ? deliverAt.getTime() : (deliverAt as number);
    if (typeof atMs !== 'number' || !Number.isFinite(atMs)) {
      throw new ScheduleError(
        'SCHEDULE_INVALID_TIME',
        `publish: deliverAt must be a valid Date or ms since the epoch, got ${String(deliverAt)}`,
      );
    }
  }
  if (atMs - nowMs > horizonMsMax) {
    throw new ScheduleError(
      'SCHEDULE_BEYOND_HORIZON',
      `publish: the delivery time is ${Math.round(atMs - nowMs)} ms ahead, beyond this transport's ` +
        `horizon of ${horizonMsMax} ms; schedule a nearer message that schedules the next one when it arrives`,
    );
  }
  return Math.max(Math.ceil(atMs), nowMs);
}
