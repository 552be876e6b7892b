/**
 * The envelope is a CloudEvents 1.0 event. Transports carry it in CloudEvents *binary* mode:
 * attributes as `ce_`-prefixed headers, the JSON payload as the body. Structured mode
 * (`application/cloudevents+json`) is accepted on input so foreign producers can publish to Herald.
 */
import { isUtf8 } from 'node:buffer';
import { DecodeError } from './errors.ts';

/** The attributes Herald sets on every event, plus any foreign extensions it received. */
export interface Envelope<T = unknown> {
  /** Always `1.0`. */
  readonly specversion: '1.0';
  /** Unique per source; a UUIDv7 when Herald made it. `(source, id)` identifies a message. */
  readonly id: string;
  /** URI-reference of the producing service, e.g. `/checkout/order`. */
  readonly source: string;
  /** The contract type, e.g. `OrderCreated`. */
  readonly type: string;
  /** RFC 3339 time the event was created. */
  readonly time: string;
  /** Always `application/json` for Herald's own events. */
  readonly datacontenttype: string;
  /** What the event is about (CloudEvents `subject`). */
  readonly subject?: string;
  /** The ordering key (CloudEvents partitioning extension). */
  readonly partitionkey?: string;
  /** The id shared by every message of one business flow. */
  readonly correlationid?: string;
  /** The id of the message whose handler caused this one. */
  readonly causationid?: string;
  /** W3C trace context (CloudEvents distributed tracing extension). */
  readonly traceparent?: string;
  /** Version of the payload's contract when it was produced. */
  readonly dataversion: number;
  /** For queries: the topic the reply goes to. */
  readonly replyto?: string;
  /** Extension attributes Herald does not interpret, kept as received. */
  readonly extensions: Readonly<Record<string, string>>;
  /** The payload. */
  readonly data: T;
}

/** A message as transports carry it: an opaque body, string headers and an optional ordering key. */
export interface TransportMessage {
  /** Messages with one key are consumed in the order they were published. */
  readonly key?: string | undefined;
  /** Header names are case-sensitive; values are UTF-8 text. */
  readonly headers: Readonly<Record<string, string>>;
  /** The payload bytes. */
  readonly body: Uint8Array;
}

/** Header prefix of CloudEvents attributes in binary mode (the Kafka binding's; AMQP maps it). */
export const CE_PREFIX = 'ce_';
const STRUCTURED = 'application/cloudevents+json';
const KNOWN = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'datacontenttype',
  'subject',
  'partitionkey',
  'correlationid',
  'causationid',
  'traceparent',
  'dataversion',
  'replyto',
] as const;
/** Header name of each known attribute, made once: building `ce_` + name per message costs a string per header. */
const KNOWN_HEADERS = KNOWN.map((name) => [name, CE_PREFIX + name] as const);
/** Attribute name of each known `ce_` header, so decoding needs no `slice` for them. */
const ATTRIBUTE_OF_HEADER = new Map<string, string>(KNOWN_HEADERS.map(([name, header]) => [header, name]));
const KNOWN_SET = new Set<string>(KNOWN);
const OPTIONAL = [
  'subject',
  'partitionkey',
  'correlationid',
  'causationid',
  'traceparent',
  'replyto',
] as const;
const EPOCH = new Date(0).toISOString();

/**
 * The UTF-8 bytes of `text` in a plain `Uint8Array` over its own ArrayBuffer, as
 * `new TextEncoder().encode(text)` returns them (lone surrogates become U+FFFD either way).
 * On Node 24 `TextEncoder.encode` allocates its result natively and costs about 4 times as much
 * for short strings as encoding into Buffer's pool and copying out; the copy keeps the result a
 * plain, exactly sized `Uint8Array` that shares no memory with other messages.
 */
export function utf8Bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

/** A header value as text: the attributes are strings by type, `dataversion` a number. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/** True when `extensions` has no own enumerable property, found without an array of its names. */
function isEmpty(extensions: Readonly<Record<string, string>>): boolean {
  for (const name in extensions) if (Object.hasOwn(extensions, name)) return false;
  return true;
}

/**
 * The content type, the extensions and the five required attributes as headers, in that order.
 * Without extensions and with every required attribute a string (a typed envelope's always are),
 * one object literal: its properties sit in the object itself, where adding them one by one to a
 * one-property literal allocated and grew a separate property store three times (headers alone:
 * 45–56 against 22–30 ns in a micro-benchmark).
 */
function requiredHeaders(envelope: Envelope): Record<string, string> {
  const { specversion, id, source, type, time } = envelope;
  if (
    typeof specversion === 'string' &&
    typeof id === 'string' &&
    typeof source === 'string' &&
    typeof type === 'string' &&
    typeof time === 'string' &&
    isEmpty(envelope.extensions)
  ) {
    return {
      'content-type': envelope.datacontenttype,
      ce_specversion: specversion,
      ce_id: id,
      ce_source: source,
      ce_type: type,
      ce_time: time,
    };
  }
  const headers: Record<string, string> = { 'content-type': envelope.datacontenttype };
  // Object.keys, not Object.entries: no [name, value] array per extension.
  const extensions = envelope.extensions;
  for (const name of Object.keys(extensions)) headers[CE_PREFIX + name] = extensions[name]!;
  if (specversion !== undefined) headers.ce_specversion = text(specversion);
  if (id !== undefined) headers.ce_id = text(id);
  if (source !== undefined) headers.ce_source = text(source);
  if (type !== undefined) headers.ce_type = text(type);
  if (time !== undefined) headers.ce_time = text(time);
  return headers;
}

/**
 * Encodes an envelope in CloudEvents binary mode. The headers are written one by one in the order
 * of `KNOWN` (a loop over name pairs with a destructuring and a lookup by computed name per
 * attribute cost about half of this function), so every event of one shape builds its header
 * object along the same hidden-class transitions.
 */
export function encodeEnvelope(envelope: Envelope): TransportMessage {
  const headers = requiredHeaders(envelope);
  if (envelope.subject !== undefined) headers.ce_subject = text(envelope.subject);
  if (envelope.partitionkey !== undefined) headers.ce_partitionkey = text(envelope.partitionkey);
  if (envelope.correlationid !== undefined) headers.ce_correlationid = text(envelope.correlationid);
  if (envelope.causationid !== undefined) headers.ce_causationid = text(envelope.causationid);
  if (envelope.traceparent !== undefined) headers.ce_traceparent = text(envelope.traceparent);
  const dataversion = envelope.dataversion;
  if (dataversion !== undefined) headers.ce_dataversion = dataversion === 1 ? '1' : text(dataversion);
  if (envelope.replyto !== undefined) headers.ce_replyto = text(envelope.replyto);
  const json = JSON.stringify(envelope.data);
  const body = utf8Bytes(json === undefined ? 'null' : json);
  return { key: envelope.partitionkey, headers, body };
}

/**
 * Decodes a transport message into an envelope, from binary mode or structured mode.
 * Throws a {@link DecodeError} that says what is missing or malformed.
 */
export function decodeEnvelope(message: TransportMessage): Envelope {
  const headers = message.headers;
  const contentType = headers['content-type'] ?? '';
  if (contentType.startsWith(STRUCTURED)) return decodeStructured(message.body);
  // Known attributes are read by name (a load each, where a collecting loop stored each into a
  // record), and optional ones added in one order, so decoded envelopes of one shape share their
  // hidden-class transitions (a loop over name pairs with a store by computed name cost about 80 ns
  // an envelope here).
  const id = headers.ce_id;
  const source = headers.ce_source;
  const type = headers.ce_type;
  const specversion = headers.ce_specversion;
  // Builds the record for the error only when there is one to throw.
  if (!id || !source || !type || specversion !== '1.0') {
    assertRequired({ id, source, type, specversion } as Record<string, string>);
  }
  const time = headers.ce_time;
  const datacontenttype = headers.ce_datacontenttype;
  const dataversion = headers.ce_dataversion;
  const subject = headers.ce_subject;
  const partitionkey = headers.ce_partitionkey;
  const correlationid = headers.ce_correlationid;
  const causationid = headers.ce_causationid;
  const traceparent = headers.ce_traceparent;
  const replyto = headers.ce_replyto;
  // Every header accounted for by a known attribute or the content type: there is no extension to
  // look for, and the loop over the names (about 150 ns for eight headers) is skipped.
  const known =
    4 +
    (headers['content-type'] === undefined ? 0 : 1) +
    (time === undefined ? 0 : 1) +
    (datacontenttype === undefined ? 0 : 1) +
    (dataversion === undefined ? 0 : 1) +
    (subject === undefined ? 0 : 1) +
    (partitionkey === undefined ? 0 : 1) +
    (correlationid === undefined ? 0 : 1) +
    (causationid === undefined ? 0 : 1) +
    (traceparent === undefined ? 0 : 1) +
    (replyto === undefined ? 0 : 1);
  const extensions = headerCount(headers) === known ? undefined : extensionsOf(headers);
  const data = parseJsonBody(message.body, type);
  const envelope: Record<string, unknown> = {
    specversion: '1.0',
    id,
    source,
    type,
    time: time ?? EPOCH,
    datacontenttype: datacontenttype ?? (contentType === '' ? 'application/json' : contentType),
    dataversion: dataVersion(dataversion),
    extensions: extensions ?? NO_EXTENSIONS,
    data,
  };
  // Optional attributes appear only when present, so a decoded envelope equals the one encoded.
  if (subject !== undefined) envelope.subject = subject;
  if (partitionkey !== undefined) envelope.partitionkey = partitionkey;
  if (correlationid !== undefined) envelope.correlationid = correlationid;
  if (causationid !== undefined) envelope.causationid = causationid;
  if (traceparent !== undefined) envelope.traceparent = traceparent;
  if (replyto !== undefined) envelope.replyto = replyto;
  return envelope as unknown as Envelope;
}

/**
 * The extensions of every decoded envelope that has none: one frozen object, not an empty one per
 * message (56 bytes each in a catch-up). `Envelope.extensions` is read-only; frozen, a handler
 * that writes to it anyway gets a `TypeError` instead of changing other envelopes.
 */
const NO_EXTENSIONS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * How many enumerable string-keyed properties `headers` has, counted without the array of names
 * `Object.keys` builds (about 90 bytes per message with ten headers). `for…in` also counts
 * inherited enumerable properties, which a headers record has none of; if some library added one to
 * `Object.prototype`, the count exceeds the known attributes and the caller takes the slow path
 * (`extensionsOf`, by `Object.keys`), which gives the same answer.
 */
function headerCount(headers: Readonly<Record<string, string>>): number {
  let count = 0;
  for (const _name in headers) count += 1;
  return count;
}

/** The `ce_` headers that are no known attribute, by attribute name; `undefined` when none. */
function extensionsOf(headers: Readonly<Record<string, string>>): Record<string, string> | undefined {
  let extensions: Record<string, string> | undefined;
  for (const name of Object.keys(headers)) {
    if (name.startsWith(CE_PREFIX) && !ATTRIBUTE_OF_HEADER.has(name)) {
      extensions ??= {};
      extensions[name.slice(CE_PREFIX.length)] = headers[name]!;
    }
  }
  return extensions;
}

function decodeStructured(body: Uint8Array): Envelope {
  const parsed = parseJsonBody(body, undefined);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DecodeError('structured CloudEvent body is not a JSON object');
  }
  const { data, data_base64: dataBase64, ...rest } = parsed as Record<string, unknown>;
  const attributes: Record<string, string> = {};
  const extensions: Record<string, string> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (value === undefined || value === null) continue;
    if (KNOWN_SET.has(name)) attributes[name] = String(value);
    else extensions[name] = String(value);
  }
  if (dataBase64 !== undefined) {
    throw new DecodeError('structured CloudEvent carries data_base64; Herald events carry JSON data');
  }
  return toEnvelope(attributes, extensions, data);
}

/**
 * The body as text, then JSON. `Buffer#toString()`, checked by `isUtf8` when needed, decodes what a
 * fatal `TextDecoder` does (measured on a catch-up: about 0.3 against 0.5 µs a body), the leading
 * BOM dropped as it drops it. `toString` turns each invalid sequence into U+FFFD, so only text
 * holding one can come from invalid bytes: the bytes are checked then, not for every body (a
 * string of one-byte characters cannot hold U+FFFD, so the look costs nothing for ASCII bodies;
 * 10–15 ns less a 100-byte body than checking first).
 */
function parseJsonBody(body: Uint8Array, type: string | undefined): unknown {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let text = bytes.toString();
  if (text.includes('\uFFFD') && !isUtf8(bytes))
    throw new DecodeError(`${describe(type)} body is not valid UTF-8`);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new DecodeError(`${describe(type)} body is not valid JSON (${(cause as Error).message})`, {
      cause,
    });
  }
}

/** Names the message in a decode error (built only when one is thrown). */
function describe(type: string | undefined): string {
  return type === undefined ? 'message' : `"${type}" message`;
}

function assertRequired(attributes: Record<string, string>): void {
  for (const required of ['id', 'source', 'type', 'specversion'] as const) {
    if (!attributes[required]) {
      throw new DecodeError(
        `message has no CloudEvents "${required}" attribute (header ${CE_PREFIX}${required})`,
      );
    }
  }
  if (attributes.specversion !== '1.0') {
    throw new DecodeError(
      `unsupported CloudEvents specversion "${attributes.specversion}"; Herald reads 1.0`,
    );
  }
}

/** `attributes` holds only known attributes; `extensions` the others, in the order received. */
function toEnvelope(
  attributes: Record<string, string>,
  extensions: Record<string, string>,
  data: unknown,
): Envelope {
  assertRequired(attributes);
  const dataversion = dataVersion(attributes.dataversion);
  const envelope: Record<string, unknown> = {
    specversion: '1.0',
    id: attributes.id!,
    source: attributes.source!,
    type: attributes.type!,
    time: attributes.time ?? EPOCH,
    datacontenttype: attributes.datacontenttype ?? 'application/json',
    dataversion,
    extensions,
    data,
  };
  // Optional attributes appear only when present, so a decoded envelope equals the one encoded.
  for (const name of OPTIONAL) if (attributes[name] !== undefined) envelope[name] = attributes[name];
  return envelope as unknown as Envelope;
}

/** The `dataversion` attribute's value: 1 when absent; throws a DecodeError unless a positive integer. */
function dataVersion(text: string | undefined): number {
  const dataversion = text === undefined ? 1 : Number(text);
  if (!Number.isSafeInteger(dataversion) || dataversion < 1) {
    throw new DecodeError(`"dataversion" must be a positive integer, got "${text}"`);
  }
  return dataversion;
}

/** Size of a message as transports count it against their limit: body + header names/values + key. */
export function messageSizeBytes(message: TransportMessage): number {
  let size = message.body.byteLength + (message.key === undefined ? 0 : Buffer.byteLength(message.key));
  // Object.keys, not Object.entries: transports call this per message, and the entry arrays cost
  // about a quarter of its time.
  const headers = message.headers;
  for (const name of Object.keys(headers))
    size += Buffer.byteLength(name) + Buffer.byteLength(headers[name]!);
  return size;
}
