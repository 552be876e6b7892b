/**
 * Produce and fetch byte-rate quotas per principal, as Kafka's client quotas: a client over its
 * rate gets its response at once with `throttle_time_ms` set, and the server then stops reading
 * from that connection for that long (KIP-219), so a well-behaved client waits and a misbehaving
 * one is held back anyway. The rate is tracked as a debt: each request moves the principal's
 * "caught up at" time forward by bytes / rate; up to one second of burst is free.
 */

/** Most principals tracked at once; the longest caught-up ones are forgotten first. */
export const QUOTA_PRINCIPALS_MAX = 10_000;
/** Free burst: a principal may run this far ahead of its rate before being throttled. */
const BURST_MS = 1_000;
/** Longest throttle of one response (Kafka caps at the quota window, 30 s here). */
export const THROTTLE_MS_MAX = 30_000;

/** One byte-rate quota shared by the connections of each principal. */
export class ByteRateQuota {
  readonly #bytesPerSecond: number;
  /** principal → time (performance.now()) at which its bytes so far would have been paid for. */
  readonly #caughtUpAt = new Map<string, number>();

  constructor(bytesPerSecond: number) {
    this.#bytesPerSecond = bytesPerSecond;
  }

  /** Records `bytes` for `principal`; returns how long to throttle it (0 when within its rate). */
  record(principal: string, bytes: number, nowMs: number = performance.now()): number {
    const previous = this.#caughtUpAt.get(principal);
    const start = previous === undefined || previous < nowMs ? nowMs : previous;
    const caughtUpAt = start + (bytes / this.#bytesPerSecond) * 1_000;
    // Re-inserted so the map's order is least recently used first.
    this.#caughtUpAt.delete(principal);
    this.#caughtUpAt.set(principal, caughtUpAt);
    if (this.#caughtUpAt.size > QUOTA_PRINCIPALS_MAX) {
      const oldest = this.#caughtUpAt.keys().next().value;
      if (oldest !== undefined) this.#caughtUpAt.delete(oldest);
    }
    return Math.min(THROTTLE_MS_MAX, Math.max(0, Math.ceil(caughtUpAt - nowMs - BURST_MS)));
  }
}

/** The quotas of a server (either may be absent: unlimited). */
export interface Quotas {
  readonly produce?: ByteRateQuota;
  readonly fetch?: ByteRateQuota;
}
