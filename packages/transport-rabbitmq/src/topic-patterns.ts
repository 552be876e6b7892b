/**
 * Topic patterns on RabbitMQ. Routing keys are event types (that is how a group's `types` narrow its
 * bindings), so the topic travels as a second routing key: every publish carries the BCC routing
 * key `@t.<topic>` (sender-selected distribution; RabbitMQ routes on it and strips it before
 * delivery), and every topic exchange is bound to one topic exchange per prefix,
 * `<prefix>:patterns`, with exactly its own topic key. A pattern group's exchange is bound there
 * with the pattern as an AMQP topic pattern (`orders.*` → `@t.orders.*`, `tenant.>` →
 * `@t.tenant.*.#`), so it gets every message of every matching topic, including topics whose
 * exchange is declared after the group: the publisher binds a topic's exchange before its first
 * message.
 *
 * The `@t` word keeps event types out of the pattern bindings: Herald types are words of
 * `A-Z a-z 0-9 . _ -`, so none starts with `@t.`. `@t.` plus a 249-character topic is 252 bytes,
 * inside AMQP's 255-byte routing keys.
 */
import { topicPatternRegExp } from '@herald/bus';

/** First word of every topic routing key; `@` never appears in a Herald type or topic. */
export const TOPIC_KEY_WORD = '@t';

/** The exchange every topic exchange forwards its topic key to, and pattern groups bind to. */
export function patternExchangeName(prefix: string): string {
  // `:` never appears in a topic name and group names need a topic before it: no collision.
  return `${prefix}:patterns`;
}

/** The BCC routing key a message of `topic` carries, and its exchange's binding key. */
export function topicRoutingKey(topic: string): string {
  return `${TOPIC_KEY_WORD}.${topic}`;
}

/**
 * The AMQP binding key of a Herald topic pattern: `*` is one word in both; Herald's final `>` (one
 * or more words) is `*.#` (AMQP's `#` alone also matches zero words).
 */
export function patternBindingKey(pattern: string): string {
  const words = pattern.split('.').map((word) => (word === '>' ? '*.#' : word));
  return `${TOPIC_KEY_WORD}.${words.join('.')}`;
}

/**
 * A test of topic names against `pattern` with Herald's exact semantics. AMQP's `*` also matches
 * an empty word (topic `orders.` under `orders.*`), which Herald's does not; deliveries of topics
 * it rejects are acked and dropped.
 */
export function topicMatcher(pattern: string): (topic: string) => boolean {
  const regExp = topicPatternRegExp(pattern);
  return (topic) => regExp.test(topic);
}
