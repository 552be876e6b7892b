/**
 * Kafka and NATS announce no new topics (streams), so their pattern subscriptions poll the topic
 * list: every
 * {@link TOPIC_LIST_POLL_MS} it lists the cluster's topics and reports them all (the pattern
 * subscription ignores the ones it already reads). One poll at a time; a failed poll is retried
 * at the next tick, and the subscription goes on with the topics it has.
 */

/** How often a pattern subscription lists the topics, in ms: the delay before it sees a new topic. */
export const TOPIC_LIST_POLL_MS = 2_000;

/**
 * Calls `listTopics` every `intervalMs` and `listener` with each name, skipping Kafka's internal
 * topics (`__consumer_offsets`, `__transaction_state`). Returns the function that stops it.
 */
export function pollTopics(
  listTopics: () => Iterable<string> | Promise<Iterable<string>>,
  listener: (topic: string) => void,
  intervalMs = TOPIC_LIST_POLL_MS,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    try {
      const topics = await listTopics();
      for (const topic of topics) if (!stopped && !topic.startsWith('__')) listener(topic);
    } catch {
      // Unreachable broker: the next tick tries again; the transport's health reports the outage.
    }
    if (!stopped) timer = setTimeout(poll, intervalMs).unref();
  };
  timer = setTimeout(poll, intervalMs).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
