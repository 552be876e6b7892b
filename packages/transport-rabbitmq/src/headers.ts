/**
 * CloudEvents over AMQP (the CloudEvents AMQP protocol binding, binary mode): Herald's `ce_<name>`
 * headers travel as application properties (AMQP 0-9-1 headers) named `cloudEvents:<name>`, and
 * the `content-type` header travels as the message's content-type property. Receiving maps them
 * back, so `ReceivedMessage.headers` look exactly as on every other transport. Herald's own
 * bookkeeping rides in `herald-*` headers, which are removed on receipt, as are the broker's
 * dead-lettering and delivery-count headers.
 */
import { CE_PREFIX, type TransportMessage } from '@herald/bus';

/** Application-property prefix of CloudEvents attributes in the AMQP binding. */
export const CE_AMQP_PREFIX = 'cloudEvents:';
/** The binding's alternative prefix (for JMS-compatible producers); accepted on receipt. */
const CE_AMQP_PREFIX_ALTERNATIVE = 'cloudEvents_';
/**
 * Prefix of the headers this transport sets for itself; publishing one is refused. Not `x-`:
 * headers exchanges ignore `x-` headers when matching, and the shard header must be matched.
 */
export const RESERVED_PREFIX = 'herald-';
/** The message key (AMQP has none). */
export const KEY_HEADER = 'herald-key';
/** Shard number the group exchanges route on. */
export const SHARD_HEADER = 'herald-shard';
/** Deliveries before the message went through a retry queue (a delayed nack). */
export const PRIOR_ATTEMPTS_HEADER = 'herald-prior-attempts';
/** Publish time in milliseconds (the AMQP timestamp property has whole seconds only). */
export const TIMESTAMP_HEADER = 'herald-timestamp-ms';
/**
 * The message's topic, set where the delivery's exchange cannot tell it: a topic whose exchange
 * name was shortened with a hash, and retry copies (which come back through the group exchange).
 */
export const TOPIC_HEADER = 'herald-topic';
/** Headers RabbitMQ adds on redelivery and dead-lettering; not part of the message. */
const BROKER_HEADERS = new Set([
  'x-delivery-count',
  'x-death',
  'x-stream-offset',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
]);

/** The AMQP side of a message: headers table and content type. */
export interface AmqpHeaders {
  readonly headers: Record<string, string>;
  readonly contentType: string | undefined;
}

/** The name of a reserved header in `message`, if it carries one. */
export function reservedHeaderOf(message: TransportMessage): string | undefined {
  for (const name of Object.keys(message.headers)) if (name.startsWith(RESERVED_PREFIX)) return name;
  return undefined;
}

/** Maps Herald headers to AMQP ones (without the `herald-*` bookkeeping, which the caller adds). */
export function toAmqpHeaders(message: TransportMessage): AmqpHeaders {
  const headers: Record<string, string> = {};
  let contentType: string | undefined;
  for (const [name, value] of Object.entries(message.headers)) {
    if (name === 'content-type') contentType = value;
    else if (name.startsWith(CE_PREFIX)) headers[CE_AMQP_PREFIX + name.slice(CE_PREFIX.length)] = value;
    else headers[name] = value;
  }
  return { headers, contentType };
}

/** What a received AMQP message carries, in Herald's terms. */
export interface HeraldFields {
  readonly key: string | undefined;
  readonly headers: Record<string, string>;
  /** Deliveries counted in `herald-prior-attempts` (0 when absent). */
  readonly priorAttempts: number;
  /** The publisher's millisecond timestamp, if it was Herald. */
  readonly timestampMs: number | undefined;
  /** The topic named in `herald-topic`, if the message has one. */
  readonly topic: string | undefined;
}

/** Maps a received message's AMQP headers and content type back to Herald's. */
export function fromAmqpHeaders(
  table: Readonly<Record<string, unknown>> | undefined,
  contentType: unknown,
): HeraldFields {
  const headers: Record<string, string> = {};
  let key: string | undefined;
  let priorAttempts = 0;
  let timestampMs: number | undefined;
  let topic: string | undefined;
  for (const [name, raw] of Object.entries(table ?? {})) {
    if (raw === undefined || raw === null || BROKER_HEADERS.has(name)) continue;
    if (name.startsWith(RESERVED_PREFIX)) {
      const value = headerText(name, raw);
      if (name === KEY_HEADER) key = value;
      else if (name === PRIOR_ATTEMPTS_HEADER) priorAttempts = nonNegativeInteger(value);
      else if (name === TIMESTAMP_HEADER) timestampMs = nonNegativeInteger(value) || undefined;
      else if (name === TOPIC_HEADER) topic = value;
      continue;
    }
    const attribute = ceAttribute(name);
    if (attribute === undefined) headers[name] = headerText(name, raw);
    else headers[CE_PREFIX + attribute] = headerText(attribute, raw);
  }
  if (typeof contentType === 'string') headers['content-type'] = contentType;
  // A foreign CloudEvents producer states the ordering key as the partitioning extension.
  key ??= headers[`${CE_PREFIX}partitionkey`];
  return { key, headers, priorAttempts, timestampMs, topic };
}

function ceAttribute(name: string): string | undefined {
  if (name.startsWith(CE_AMQP_PREFIX)) return name.slice(CE_AMQP_PREFIX.length);
  if (name.startsWith(CE_AMQP_PREFIX_ALTERNATIVE)) return name.slice(CE_AMQP_PREFIX_ALTERNATIVE.length);
  return undefined;
}

/**
 * A header value as text. Herald writes strings; foreign clients may send numbers, booleans,
 * byte arrays, timestamps or nested tables, which are rendered so nothing is dropped.
 */
function headerText(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  // The binding allows `time` as an AMQP timestamp, which 0-9-1 carries in seconds.
  if (name === 'time' && typeof value === 'number') return new Date(value * 1000).toISOString();
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

function nonNegativeInteger(text: string): number {
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}
