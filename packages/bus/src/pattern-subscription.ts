/**
 * A pattern subscription built from per-topic ones, for transports that know their topics and
 * hear of new ones (memory and embedded are told at once; Kafka polls its topic list): it
 * subscribes the group to every matching topic now, and to each matching topic created later, as
 * soon as the transport reports it.
 */
import { topicPatternRegExp } from './topic-pattern.ts';
import type { CloseOptions, MessageHandler, SubscribeOptions, Subscription } from './transport.ts';

/** Most topics one pattern subscription reads; a further matching topic is refused loudly. */
export const PATTERN_TOPICS_MAX = 10_000;

/** What {@link subscribeToPattern} needs from the transport. */
export interface PatternSource {
  /** The names of the topics that exist now. */
  topics(): Iterable<string> | Promise<Iterable<string>>;
  /**
   * Calls `listener` with each topic created from now on (names already reported may come again:
   * they are ignored); returns the function that stops it.
   */
  watchTopics(listener: (topic: string) => void): () => void;
  /** Subscribes to one topic (a name, not a pattern). */
  subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription>;
  /** Reports a failed subscription to a new topic (the pattern subscription goes on). */
  onError(topic: string, error: unknown): void;
}

/**
 * Subscribes `options.group` to every topic matching the pattern `options.topic`, now and later.
 * Resolves once the existing topics are subscribed. Closing it closes every per-topic one.
 */
export async function subscribeToPattern(
  options: SubscribeOptions,
  handler: MessageHandler,
  source: PatternSource,
): Promise<Subscription> {
  const matches = topicPatternRegExp(options.topic);
  const subscriptions = new Map<string, Promise<Subscription>>();
  let closed = false;
  const add = (topic: string) => {
    if (closed || subscriptions.has(topic) || !matches.test(topic)) return;
    if (subscriptions.size >= PATTERN_TOPICS_MAX) {
      source.onError(
        topic,
        new Error(`pattern "${options.topic}" already reads ${PATTERN_TOPICS_MAX} topics`),
      );
      return;
    }
    const subscribing = source.subscribe({ ...options, topic }, handler);
    subscriptions.set(topic, subscribing);
    return subscribing;
  };
  // Watch first: a topic created while the existing ones are subscribed is not missed.
  const stopWatching = source.watchTopics((topic) => {
    add(topic)?.catch((error: unknown) => {
      subscriptions.delete(topic);
      source.onError(topic, error);
    });
  });
  try {
    await Promise.all([...(await source.topics())].map(add));
  } catch (error) {
    closed = true;
    stopWatching();
    await closeAll(subscriptions.values(), {});
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    close: (closeOptions?: CloseOptions) => {
      closed = true;
      stopWatching();
      closing ??= closeAll(subscriptions.values(), closeOptions ?? {});
      return closing;
    },
  };
}

async function closeAll(
  subscriptions: Iterable<Promise<Subscription>>,
  options: CloseOptions,
): Promise<void> {
  await Promise.all(
    [...subscriptions].map(async (subscribing) => {
      const subscription = await subscribing.catch(() => undefined);
      await subscription?.close(options);
    }),
  );
}
