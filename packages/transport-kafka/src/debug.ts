/**
 * `HERALD_KAFKA_DEBUG=1` traces group membership and commits of the Kafka subscriptions on stderr,
 * for diagnosing rebalances by hand; off by default, and the checks cost one boolean read.
 */

import type { Consumer, ConsumerGroupJoinPayload } from '@platformatic/kafka';

/** Whether tracing is on (read once, at load). */
export const DEBUG = process.env.HERALD_KAFKA_DEBUG === '1';

/** Writes one trace line for `group` on `topic`. Call it behind `if (DEBUG)`. */
export function debug(group: string, topic: string, ...parts: unknown[]): void {
  console.error(`[herald kafka ${new Date().toISOString()}] ${group}@${topic}`, ...parts);
}

/** Traces `member`'s assignments, rebalances and heartbeat errors. Call it behind `if (DEBUG)`. */
export function traceMember(
  member: Consumer,
  group: string,
  topic: string,
  describe: (error: unknown) => string,
) {
  const log = (...parts: unknown[]) => debug(group, topic, ...parts);
  member.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) =>
    log('assigned', payload.generationId, JSON.stringify(payload.assignments)),
  );
  member.on('consumer:group:rebalance', () => log('rebalance'));
  member.on('consumer:heartbeat:error', (payload: { error: unknown }) =>
    log('heartbeat error', describe(payload.error)),
  );
}
