/**
 * A Herald message as an SNS publish entry and back from an SQS message (raw message delivery).
 *
 * SNS and SQS allow at most 10 message attributes, and a CloudEvent has more headers than that, so:
 * the CloudEvents attributes that routing and filter policies use (`ce_id`, `ce_source`,
 * `ce_specversion`, `ce_type`, `ce_time`, `ce_subject`) and `content-type` travel as message
 * attributes of their own, and everything else (other headers, the key, the body encoding) as
 * one JSON attribute, `herald`. The body is the message text when it is UTF-8 made of characters
 * SQS accepts; otherwise it travels base64-encoded, flagged in `herald`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { TransportMessage } from '@herald/bus';
import { publishIdentity } from '@herald/bus/internal';

/** The JSON attribute carrying what has no attribute of its own. */
export const HERALD_ATTRIBUTE = 'herald';
/** Headers sent as attributes of their own (when non-empty and SQS-safe). */
const OWN_ATTRIBUTES = new Set([
  'ce_id',
  'ce_source',
  'ce_specversion',
  'ce_type',
  'ce_time',
  'ce_subject',
  'content-type',
]);
/** Characters SQS accepts in a body or attribute (XML 1.0 characters). */
const SQS_UNSAFE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
/** Characters a MessageGroupId / MessageDeduplicationId may hold, at most 128 of them. */
const AWS_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** What `herald` holds. */
interface HeraldAttribute {
  /** Headers without an attribute of their own. */
  h?: Record<string, string>;
  /** The key. */
  k?: string;
  /** Body encoding: `b64` when the body is base64. */
  e?: 'b64';
}

/** One SNS `PublishBatch` entry, with its size as SNS counts it. */
export interface PublishEntry {
  readonly Message: string;
  readonly MessageGroupId: string;
  readonly MessageDeduplicationId: string;
  readonly MessageAttributes: Record<string, { DataType: 'String'; StringValue: string }>;
  /** Bytes of the message and its attributes (names, types and values), as SNS limits them. */
  readonly sizeBytes: number;
}

function bodyText(body: Uint8Array): string | undefined {
  if (body.byteLength === 0) return undefined; // SNS refuses an empty message.
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return undefined;
  }
  return SQS_UNSAFE.test(text) ? undefined : text;
}

/** An id SNS accepts: `value` itself when legal, else a hash of it (prefixed so it cannot clash). */
function awsId(value: string): string {
  return AWS_ID.test(value) ? value : `h:${createHash('sha256').update(value).digest('base64url')}`;
}

/**
 * The SNS entry of `message`. Its MessageGroupId is the key (per-key order; keyless messages get
 * a group of their own each, so nothing orders them), and its MessageDeduplicationId is derived
 * from the CloudEvents id, so SNS drops a copy published again within 5 minutes (e.g. an outbox
 * relay retrying). See {@link deduplicationId}.
 */
export function toPublishEntry(message: TransportMessage): PublishEntry {
  const attributes: Record<string, { DataType: 'String'; StringValue: string }> = {};
  const herald: HeraldAttribute = {};
  let sizeBytes = 0;
  for (const [name, value] of Object.entries(message.headers)) {
    if (OWN_ATTRIBUTES.has(name) && value !== '' && !SQS_UNSAFE.test(value)) {
      attributes[name] = { DataType: 'String', StringValue: value };
      sizeBytes += Buffer.byteLength(name) + 'String'.length + Buffer.byteLength(value);
    } else {
      herald.h ??= {};
      herald.h[name] = value;
    }
  }
  if (message.key !== undefined) herald.k = message.key;
  let text = bodyText(message.body);
  if (text === undefined) {
    herald.e = 'b64';
    // An empty body is "=", which decodes to no bytes: SNS refuses an empty message.
    text =
      Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength).toString('base64') ||
      '=';
  }
  if (herald.h !== undefined || herald.k !== undefined || herald.e !== undefined) {
    // JSON.stringify escapes control characters and lone surrogates; the two non-characters SQS
    // also refuses are escaped here, so the attribute is always SQS-safe.
    const value = JSON.stringify(herald).replace(
      /[\ufffe\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    attributes[HERALD_ATTRIBUTE] = { DataType: 'String', StringValue: value };
    sizeBytes += HERALD_ATTRIBUTE.length + 'String'.length + Buffer.byteLength(value);
  }
  sizeBytes += Buffer.byteLength(text);
  return {
    Message: text,
    MessageGroupId: message.key !== undefined ? awsId(message.key) : `n:${randomUUID()}`,
    MessageDeduplicationId: deduplicationId(message),
    MessageAttributes: attributes,
    sizeBytes,
  };
}

/**
 * The deduplication id of a message: `@herald/bus`'s publish identity (a hash of the CloudEvents id
 * with the key, every header and the body), so only an exact copy is dropped. The id alone is not
 * enough: Herald publishes messages that keep their event's id but differ otherwise (a redriven
 * dead letter, the dead letters of one event failed by two groups), and SNS would drop them. A
 * message without an id gets a random one: nothing to deduplicate it by.
 */
export function deduplicationId(message: TransportMessage): string {
  return publishIdentity(message) ?? randomUUID();
}

/** What a received SQS message carries, in Herald's terms. */
export interface ReceivedFields {
  readonly key: string | undefined;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

/** Maps a received SQS message (raw delivery) back to Herald's key, headers and body. */
export function fromSqsMessage(
  body: string | undefined,
  attributes: Readonly<Record<string, { StringValue?: string; DataType?: string }>> | undefined,
): ReceivedFields {
  const headers: Record<string, string> = {};
  let herald: HeraldAttribute = {};
  for (const [name, attribute] of Object.entries(attributes ?? {})) {
    const value = attribute.StringValue ?? '';
    if (name === HERALD_ATTRIBUTE) {
      try {
        herald = JSON.parse(value) as HeraldAttribute;
      } catch {
        headers[name] = value; // Not ours (a foreign publisher's attribute): kept as a header.
      }
    } else {
      headers[name] = value;
    }
  }
  Object.assign(headers, herald.h);
  const text = body ?? '';
  const bytes = herald.e === 'b64' ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  // A foreign CloudEvents producer states the ordering key as the partitioning extension.
  const key = herald.k ?? headers.ce_partitionkey;
  return { key, headers, body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}
