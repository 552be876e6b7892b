/** Rules for the names users choose: topics, contract types and consumer groups. */
import { ConfigurationError } from './errors.ts';

/** Longest accepted topic name; Kafka's own limit, so topics map one-to-one onto every transport. */
export const TOPIC_NAME_LENGTH_MAX = 249;
/** Longest accepted contract type or consumer group name. */
export const NAME_LENGTH_MAX = 200;

const LEGAL = /^[A-Za-z0-9._-]+$/;

/** Throws a {@link ConfigurationError} unless `topic` is a name every transport accepts. */
export function assertTopicName(topic: string, context: string): void {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new ConfigurationError(
      `${context}: topic name is empty; give the contract a topic such as "orders"`,
    );
  }
  if (topic.length > TOPIC_NAME_LENGTH_MAX || !LEGAL.test(topic) || topic === '.' || topic === '..') {
    throw new ConfigurationError(
      `${context}: invalid topic name "${topic}"; use 1-${TOPIC_NAME_LENGTH_MAX} characters from ` +
        'A-Z a-z 0-9 . _ - (and not "." or "..")',
    );
  }
}

/** Throws a {@link ConfigurationError} unless `name` is a legal contract type or group name. */
export function assertName(name: string, what: string, context: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > NAME_LENGTH_MAX || !LEGAL.test(name)) {
    throw new ConfigurationError(
      `${context}: invalid ${what} "${String(name)}"; use 1-${NAME_LENGTH_MAX} characters from A-Z a-z 0-9 . _ -`,
    );
  }
}
