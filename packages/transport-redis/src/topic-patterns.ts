/**
 * Topic patterns on Redis: a consumer group belongs to one stream and Redis announces no new
 * keys, so a pattern subscription lists the topics (the `<prefix>t:<topic>` hashes every topic's
 * first use writes) now and every `TOPIC_LIST_POLL_MS`, and subscribes the group to each matching
 * topic on its own.
 */
import type { TopicPatternsFeature } from '@herald/bus';
import { TOPIC_LIST_POLL_MS } from '@herald/bus/internal';
import type { Redis } from 'ioredis';

/** Most topics one listing returns; a bound on the work of each poll. */
export const TOPICS_LISTED_MAX = 100_000;
/** Keys SCAN looks at per call. */
const SCAN_COUNT = 1_000;

/** What the Redis transport declares as `features.topicPatterns`. */
export const REDIS_TOPIC_PATTERNS: TopicPatternsFeature = {
  mode: 'supported',
  guarantee:
    `the topic list (SCAN of the topic hashes) is polled every ${TOPIC_LIST_POLL_MS} ms; each matching ` +
    'topic is a subscription of its own in the group, and a group new to a topic reads it from its ' +
    'start, so its first messages are not missed',
  newTopicsMsMax: TOPIC_LIST_POLL_MS,
};

/** The topics recorded under `keyPrefix` (at most {@link TOPICS_LISTED_MAX}). */
export async function listTopics(redis: Redis, keyPrefix: string): Promise<string[]> {
  const head = `${keyPrefix}t:`;
  // SCAN MATCH is a glob: the prefix's own glob characters must match literally.
  const match = `${head.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const topics = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    for (const key of keys) topics.add(key.slice(head.length));
    cursor = next;
  } while (cursor !== '0' && topics.size < TOPICS_LISTED_MAX);
  return [...topics];
}
