/**
 * Topic patterns on NATS: each topic is a stream capturing `<prefix>.<topic>.*`, and JetStream
 * announces no new streams, so a pattern subscription lists the streams (now and every
 * `TOPIC_LIST_POLL_MS`) and subscribes the group to each matching topic on its own.
 */
import type { TopicPatternsFeature } from '@herald/bus';
import { TOPIC_LIST_POLL_MS } from '@herald/bus/internal';
import type { JetStreamManager } from '@nats-io/jetstream';

/** What the NATS transport declares as `features.topicPatterns`. */
export const NATS_TOPIC_PATTERNS: TopicPatternsFeature = {
  mode: 'supported',
  guarantee:
    `the stream list is polled every ${TOPIC_LIST_POLL_MS} ms (JetStream announces no new streams); ` +
    'each matching topic is a subscription of its own in the group, and a group new to a topic reads ' +
    'it from its start, so its first messages are not missed',
  newTopicsMsMax: TOPIC_LIST_POLL_MS,
};

/** Most streams one listing reads; a bound on the work of each poll. */
export const STREAMS_LISTED_MAX = 100_000;

/** The topics whose streams exist under `prefix`, read from each stream's subject filter. */
export async function listTopics(jsm: JetStreamManager, prefix: string): Promise<string[]> {
  const topics: string[] = [];
  const head = `${prefix}.`;
  for await (const info of jsm.streams.list()) {
    for (const subject of info.config.subjects ?? []) {
      if (subject.startsWith(head) && subject.endsWith('.*')) topics.push(subject.slice(head.length, -2));
    }
    if (topics.length >= STREAMS_LISTED_MAX) break;
  }
  return topics;
}
