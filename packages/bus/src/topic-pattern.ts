/**
 * Topic patterns: one subscription for every topic whose name matches, such as `orders.*`. The
 * syntax is NATS's, because it maps onto every broker that has patterns: topic names are words
 * separated by `.`; `*` stands for exactly one word and `>`, as the last word, for one or more.
 * Neither character is legal in a topic name, so a pattern is never mistaken for a topic.
 */
import { ConfigurationError } from './errors.ts';
import { TOPIC_NAME_LENGTH_MAX } from './names.ts';

const WORD = /^[A-Za-z0-9_-]+$/;

/** True when `topic` is a pattern (has a `*` or `>` word) rather than a topic name. */
export function isTopicPattern(topic: string): boolean {
  return topic.split('.').some((word) => word === '*' || word === '>');
}

/**
 * Throws a {@link ConfigurationError} unless `pattern` is a valid topic pattern: words of
 * A-Z a-z 0-9 _ - separated by `.`, where a word may be `*`, and the last may be `>`.
 */
export function assertTopicPattern(pattern: string, context: string): void {
  const words = typeof pattern === 'string' ? pattern.split('.') : [];
  const valid =
    words.length > 0 &&
    pattern.length <= TOPIC_NAME_LENGTH_MAX &&
    words.every(
      (word, index) => word === '*' || (word === '>' && index === words.length - 1) || WORD.test(word),
    ) &&
    isTopicPattern(pattern);
  if (!valid) {
    throw new ConfigurationError(
      `${context}: invalid topic pattern "${String(pattern)}"; use words of A-Z a-z 0-9 _ - separated ` +
        'by ".", where "*" matches one word and a final ">" one or more (e.g. "orders.*", "tenant.>")',
    );
  }
}

/** A regular expression matching exactly the topic names `pattern` matches. */
export function topicPatternRegExp(pattern: string): RegExp {
  const words = pattern.split('.').map((word) => {
    if (word === '*') return '[^.]+';
    if (word === '>') return '[^.]+(?:\\.[^.]+)*';
    return word.replace(/[-]/g, '\\-');
  });
  return new RegExp(`^${words.join('\\.')}$`);
}

/** True when topic name `topic` matches `pattern`. */
export function matchesTopicPattern(pattern: string, topic: string): boolean {
  return topicPatternRegExp(pattern).test(topic);
}
