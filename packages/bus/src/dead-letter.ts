/**
 * Dead-lettering: a message that cannot be processed (undecodable, invalid, unknown type, or out
 * of retries) is republished to its dead-letter topic with headers that say where it came from
 * and why it failed, and only then acked. If the dead-letter publish fails, the original is not
 * acked, so nothing is ever dropped.
 */
import type { TransportMessage } from './envelope.ts';
import type { ReceivedMessage } from './transport.ts';
import { uuidv7 } from './uuid.ts';

/** Header names Herald adds to a dead-lettered message. */
export const DEAD_LETTER_HEADERS = {
  /** Unique id of the dead letter itself (the original may have no id if it was undecodable). */
  id: 'herald_dlq_id',
  topic: 'herald_dlq_topic',
  partition: 'herald_dlq_partition',
  offset: 'herald_dlq_offset',
  group: 'herald_dlq_group',
  reason: 'herald_dlq_reason',
  errorName: 'herald_dlq_error_name',
  errorMessage: 'herald_dlq_error_message',
  errorStack: 'herald_dlq_error_stack',
  attempts: 'herald_dlq_attempts',
  /** The original message's key: dead letters themselves all share one key, so they stay in order. */
  key: 'herald_dlq_key',
  firstFailedAt: 'herald_dlq_first_failed_at',
  lastFailedAt: 'herald_dlq_last_failed_at',
} as const;

/** Prefix of every header Herald adds to a dead letter; a redrive strips them. */
export const DEAD_LETTER_HEADER_PREFIX = 'herald_dlq_';

/**
 * Header naming the only group that should process a redriven message: other groups of the
 * original topic skip it, because they processed the original already.
 */
export const TARGET_GROUP_HEADER = 'herald_target_group';

/**
 * The key of every message on a dead-letter topic. One key keeps a dead-letter topic in one
 * ordered sequence on every transport, which lets a reader know when it has seen everything
 * (it reads up to a marker it published itself).
 */
export const DEAD_LETTER_KEY = 'herald.dead-letters';

/** Why a message was dead-lettered. */
export type DeadLetterReason =
  | 'undecodable'
  | 'invalid'
  | 'unknown-type'
  | 'unrecoverable'
  | 'retries-exhausted';

/** Longest error message or stack kept in a header, so dead letters stay within size limits. */
const ERROR_TEXT_CHARS_MAX = 4096;

/** The dead-letter topic of `topic` by default: `<topic>.dlq`. */
export function defaultDeadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** Builds the dead-letter copy of `received`: same key and body, original headers plus the failure's. */
export function deadLetterMessage(
  received: ReceivedMessage,
  group: string,
  reason: DeadLetterReason,
  error: unknown,
  firstFailedAtMs: number,
): TransportMessage {
  const failure = error instanceof Error ? error : new Error(String(error));
  return {
    key: DEAD_LETTER_KEY,
    body: received.body,
    headers: {
      ...received.headers,
      ...(received.key === undefined ? {} : { [DEAD_LETTER_HEADERS.key]: received.key }),
      [DEAD_LETTER_HEADERS.id]: uuidv7(),
      [DEAD_LETTER_HEADERS.topic]: received.topic,
      [DEAD_LETTER_HEADERS.partition]: String(received.partition),
      [DEAD_LETTER_HEADERS.offset]: received.offset,
      [DEAD_LETTER_HEADERS.group]: group,
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.errorName]: failure.name,
      [DEAD_LETTER_HEADERS.errorMessage]: failure.message.slice(0, ERROR_TEXT_CHARS_MAX),
      [DEAD_LETTER_HEADERS.errorStack]: (failure.stack ?? '').slice(0, ERROR_TEXT_CHARS_MAX),
      [DEAD_LETTER_HEADERS.attempts]: String(received.deliveryAttempt),
      [DEAD_LETTER_HEADERS.firstFailedAt]: new Date(firstFailedAtMs).toISOString(),
      [DEAD_LETTER_HEADERS.lastFailedAt]: new Date().toISOString(),
    },
  };
}
