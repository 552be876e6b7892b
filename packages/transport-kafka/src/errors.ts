/** Reading `@platformatic/kafka` errors, which nest broker errors in `errors` arrays. */

/** True when `error` or an error nested in it carries the Kafka error `apiId` (e.g. `TOPIC_ALREADY_EXISTS`). */
export function hasKafkaError(error: unknown, apiId: string, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 8) return false;
  const candidate = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (candidate.apiId === apiId) return true;
  if (Array.isArray(candidate.errors)) {
    for (const nested of candidate.errors) if (hasKafkaError(nested, apiId, depth + 1)) return true;
  }
  return hasKafkaError(candidate.cause, apiId, depth + 1);
}

/**
 * True when `error` or an error nested in it is one the client marks retriable (`canRetry`, e.g. a
 * refused or dropped connection, a broker that is not the leader yet): the caller may try again.
 */
export function isRetriable(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 8) return false;
  const candidate = error as { canRetry?: unknown; errors?: unknown; cause?: unknown };
  if (candidate.canRetry === true) return true;
  if (Array.isArray(candidate.errors)) {
    for (const nested of candidate.errors) if (isRetriable(nested, depth + 1)) return true;
  }
  return isRetriable(candidate.cause, depth + 1);
}

/** The message of `error` with the nested broker errors' messages, for logs and `TransportError`s. */
export function describeError(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 4) return String(error);
  const nested = (error as { errors?: unknown }).errors;
  if (!Array.isArray(nested) || nested.length === 0) return error.message;
  // Retries nest the same failure many times over: say each distinct one once.
  const distinct = [...new Set(nested.map((inner) => describeError(inner, depth + 1)))];
  return `${error.message} (${distinct.join('; ')})`;
}

/**
 * Errors a first JoinGroup/SyncGroup can meet on Apache Kafka that joining again shortly cures
 * (`herald serve` shows none of them to a first join):
 * - the coordinator is still loading, e.g. the first FindCoordinator while Kafka creates
 *   `__consumer_offsets`, or just after the coordinator moved to another broker;
 * - REBALANCE_IN_PROGRESS from SyncGroup: another member joined while this join was completing
 *   (several members subscribing at once), so the group needs one more round.
 */
const JOIN_AGAIN = [
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR',
  'REBALANCE_IN_PROGRESS',
];

/**
 * @platformatic/kafka's message when Metadata answers UNKNOWN_TOPIC_OR_PARTITION (it replaces the
 * broker error with a plain one): on a cluster, a topic just created may not have reached the
 * broker that answers yet.
 */
const UNKNOWN_TOPIC_MESSAGE = /^Unknown topic /;

/**
 * True when `error` says the join should simply be tried again (see {@link JOIN_AGAIN}), or that
 * a topic created a moment ago is not yet known to every broker.
 */
export function shouldJoinAgain(error: unknown): boolean {
  if (JOIN_AGAIN.some((apiId) => hasKafkaError(error, apiId))) return true;
  return (
    hasKafkaError(error, 'UNKNOWN_TOPIC_OR_PARTITION') || UNKNOWN_TOPIC_MESSAGE.test(describeError(error))
  );
}

/**
 * How long a subscription's first join keeps joining again after errors that another round cures
 * (a coordinator still loading, REBALANCE_IN_PROGRESS) before `subscribe` rejects: the rebalance
 * timeout, the longest the coordinator waits for the group's members to rejoin, so one rebalance
 * always has time to finish. A session timeout (10 s by default) was too short: seven services
 * starting at once on a loaded 2-core machine kept the scheduler's shared group rebalancing for
 * longer, and a service failed to start.
 */
export function firstJoinWindowMs(options: { readonly rebalanceTimeoutMs: number }): number {
  return options.rebalanceTimeoutMs;
}

/** How a subscription's fetches or group joins are named in the transport's health report. */
export function healthSource(what: 'fetch' | 'join', topic: string, group: string): string {
  return `${what} ${topic}/${group}`;
}
