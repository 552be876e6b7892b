/**
 * SNS topic and SQS queue names for Herald topics and groups. Herald names allow `.`, which SNS
 * and SQS do not, and may be longer than SQS's 80 characters: names are made legal, and shortened
 * with a hash of the full name when they would be too long, so two Herald names never share one.
 */
import { createHash } from 'node:crypto';

/** SQS queue names: at most 80 characters, `.fifo` included. */
const QUEUE_NAME_MAX = 80;
/** SNS topic names: at most 256 characters, `.fifo` included. */
const TOPIC_NAME_MAX = 256;
const FIFO = '.fifo';
/** Suffix of a group's SQS dead-letter queue (before `.fifo`). */
const DLQ_SUFFIX = '-dlq';

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** `text` with every character SNS/SQS refuse replaced, and a hash appended if anything changed. */
function legal(text: string, lengthMax: number): string {
  const cleaned = text.replace(/[^A-Za-z0-9_-]/g, '_');
  if (cleaned === text && cleaned.length <= lengthMax) return cleaned;
  const hash = hashOf(text);
  return `${cleaned.slice(0, lengthMax - hash.length - 1)}_${hash}`;
}

/** The FIFO SNS topic of a Herald topic. */
export function topicName(prefix: string, topic: string): string {
  return legal(prefix + topic, TOPIC_NAME_MAX - FIFO.length) + FIFO;
}

/** The FIFO SQS queue of a group on a topic, and its dead-letter queue. */
export function queueNames(
  prefix: string,
  topic: string,
  group: string,
): { queue: string; deadLetter: string } {
  // Every character legal in a queue name is legal in Herald names, so no separator keeps
  // ("a__b", "c") and ("a", "b__c") apart: a hash of the pair always ends the name.
  const hash = hashOf(`${prefix}\n${topic}\n${group}`);
  const readable = `${prefix}${topic}__${group}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const base = `${readable.slice(0, QUEUE_NAME_MAX - FIFO.length - DLQ_SUFFIX.length - hash.length - 1)}_${hash}`;
  return { queue: base + FIFO, deadLetter: base + DLQ_SUFFIX + FIFO };
}
