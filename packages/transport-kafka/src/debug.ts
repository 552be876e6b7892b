/**
 * `HERALD_KAFKA_DEBUG=1` traces group membership and commits of the Kafka subscriptions on stderr,
 * for diagnosing rebalances by hand; off by default, and the checks cost one boolean read.
 */

/** Whether tracing is on (read once, at load). */
export const DEBUG = process.env.HERALD_KAFKA_DEBUG === '1';

/** Writes one trace line for `group` on `topic`. Call it behind `if (DEBUG)`. */
export function debug(group: string, topic: string, ...parts: unknown[]): void {
  console.error(`[herald kafka ${new Date().toISOString()}] ${group}@${topic}`, ...parts);
}
