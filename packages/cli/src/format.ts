/**
 * How records are printed, as kcat prints them: the raw value and a newline by default (`-K D`
 * puts the key and D before it, `-D D` replaces the newline), kcat format strings
 * (`-f '%t %p %o %k %s\n'`), kcat's JSON envelope (`-J`); and Herald's own: CloudEvents in the
 * CloudEvents JSON format (`--json`) and a coloured human layout (`--pretty`, `tail` on a terminal).
 */
import { decodeEnvelope, type Envelope } from '@herald/bus';
import type { ConsumedRecord } from './targets/target.ts';
import { paint, toJson } from './terminal.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text of `bytes`, or undefined when they are not valid UTF-8. */
function textOf(bytes: Uint8Array | null): string | undefined {
  if (bytes === null) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Text for people: UTF-8, else base64 marked as such. */
function printable(bytes: Uint8Array | null): string {
  if (bytes === null) return '';
  return textOf(bytes) ?? `base64:${Buffer.from(bytes).toString('base64')}`;
}

/** Headers as a string map (Herald's header values are UTF-8 text; others shown as base64). */
export function headerMap(record: ConsumedRecord): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of record.headers) headers[name] = printable(value);
  return headers;
}

/** The CloudEvent a record carries in binary or structured mode, or undefined. */
export function cloudEventOf(record: ConsumedRecord): Envelope | undefined {
  const headers = headerMap(record);
  const structured = (headers['content-type'] ?? '').startsWith('application/cloudevents+json');
  if (headers.ce_type === undefined && !structured) return undefined;
  try {
    return decodeEnvelope({ headers, body: record.value ?? new Uint8Array(0) });
  } catch {
    return undefined; // Not a valid CloudEvent: printed as a plain record.
  }
}

/**
 * A Herald message (a CloudEvent) in the CloudEvents JSON format (structured mode): the context
 * attributes and every extension as top-level members, then `data` (JSON data stays JSON). The
 * `dataversion` extension is an Integer, so it is a JSON number.
 */
export function cloudEventJson(event: Envelope): Record<string, unknown> {
  const { extensions, data, ...attributes } = event;
  return { ...attributes, ...extensions, data };
}

/**
 * kcat's `-J` envelope, field for field: `topic`, `partition`, `offset`, `tstype`, `ts`,
 * `broker` (the leader's node id; -1 on a data directory, which has no broker), `headers` (only
 * when there are some, as kcat's flat `[name, value, …]` list), `key` and `payload` (text, or
 * null for NULL). Offsets are JSON numbers.
 */
export function kcatJson(record: ConsumedRecord): Record<string, unknown> {
  const headers = record.headers.flatMap(([name, value]) => [name, value === null ? null : printable(value)]);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    tstype: record.timestampType ?? 'create',
    ts: record.timestampMs,
    broker: record.brokerId ?? -1,
    ...(headers.length === 0 ? {} : { headers }),
    key: record.key === null ? null : printable(record.key),
    payload: record.value === null ? null : printable(record.value),
  };
}

/** `--json`: a CloudEvent in the CloudEvents JSON format; any other record as kcat's `-J` envelope. */
export function messageJson(record: ConsumedRecord): Record<string, unknown> {
  const event = cloudEventOf(record);
  return event === undefined ? kcatJson(record) : cloudEventJson(event);
}

/** Matches kcat's escapes: `\n`, `\r`, `\t`, `\\` and `\xNN`. */
const ESCAPES = /\\(?:x[0-9A-Fa-f]{2}|[ntr\\])/g;
/** Matches kcat's format tokens and escapes. */
const FORMAT_TOKENS = /%[tpokKsShT%]|\\(?:x[0-9A-Fa-f]{2}|[ntr\\])/g;

/** kcat's delimiter escapes (`-D`, `-K`): `\n`, `\r`, `\t`, `\\` and `\xNN`. */
export function unescapeDelimiter(text: string): string {
  return text.replace(ESCAPES, escapeOf);
}

function escapeOf(token: string): string {
  switch (token[1]) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    case 'x':
      return String.fromCharCode(Number.parseInt(token.slice(2), 16));
    default:
      return '\\';
  }
}

/** How the default output prints a record: kcat's `-K`, `-D` and `-Z`. */
export interface RawLayout {
  /** Print the key and this before the value (kcat `-K`). */
  readonly keyDelimiter: string | undefined;
  /** Printed after each value (kcat `-D`, default a newline). */
  readonly messageDelimiter: string;
  /** Printed for a NULL key or value (kcat prints nothing, or `NULL` with `-Z`). */
  readonly nullText: string;
}

/** The default output: `[key<K>]value<D>`, as kcat prints without `-f` or `-J`. */
export function rawRecord(record: ConsumedRecord, layout: RawLayout): string {
  const value = record.value === null ? layout.nullText : printable(record.value);
  if (layout.keyDelimiter === undefined) return value + layout.messageDelimiter;
  const key = record.key === null ? layout.nullText : printable(record.key);
  return key + layout.keyDelimiter + value + layout.messageDelimiter;
}

/** {@link rawRecord} with the key and value bytes as they are (kcat on a pipe). */
export function rawRecordBytes(record: ConsumedRecord, layout: RawLayout): Uint8Array {
  const value = record.value ?? Buffer.from(layout.nullText);
  if (layout.keyDelimiter === undefined) return Buffer.concat([value, Buffer.from(layout.messageDelimiter)]);
  return Buffer.concat([
    record.key ?? Buffer.from(layout.nullText),
    Buffer.from(layout.keyDelimiter),
    value,
    Buffer.from(layout.messageDelimiter),
  ]);
}

/**
 * Renders `record` with a kcat format string: `%t` topic, `%p` partition, `%o` offset, `%k` key,
 * `%K` key length, `%s` value, `%S` value length, `%h` headers (`name=value,…`), `%T` timestamp
 * (ms), `%%` a percent sign; `\n`, `\t`, `\r`, `\\` and `\xNN` escapes. Unknown tokens are kept
 * as typed. A NULL key or value prints as `nullText` (empty, or `NULL` with `-Z`).
 */
export function formatRecord(format: string, record: ConsumedRecord, nullText = ''): string {
  return format.replace(FORMAT_TOKENS, (token) => formatToken(token, record, nullText));
}

/** {@link formatRecord} with `%k` and `%s` as the bytes they are (kcat on a pipe). */
export function formatRecordBytes(format: string, record: ConsumedRecord, nullText = ''): Uint8Array {
  const parts: Uint8Array[] = [];
  let literalStart = 0;
  for (const match of format.matchAll(FORMAT_TOKENS)) {
    parts.push(Buffer.from(format.slice(literalStart, match.index)));
    const token = match[0];
    if (token === '%k' && record.key !== null) parts.push(record.key);
    else if (token === '%s' && record.value !== null) parts.push(record.value);
    else parts.push(Buffer.from(formatToken(token, record, nullText)));
    literalStart = match.index + token.length;
  }
  parts.push(Buffer.from(format.slice(literalStart)));
  return Buffer.concat(parts);
}

/** The text of one format token or escape. */
function formatToken(token: string, record: ConsumedRecord, nullText: string): string {
  switch (token) {
    case '%t':
      return record.topic;
    case '%p':
      return String(record.partition);
    case '%o':
      return String(record.offset);
    case '%k':
      return record.key === null ? nullText : printable(record.key);
    case '%K':
      return record.key === null ? '-1' : String(record.key.length);
    case '%s':
      return record.value === null ? nullText : printable(record.value);
    case '%S':
      return record.value === null ? '-1' : String(record.value.length);
    case '%h':
      return record.headers.map(([name, value]) => `${name}=${printable(value)}`).join(',');
    case '%T':
      return String(record.timestampMs);
    case '%%':
      return '%';
    default:
      return escapeOf(token);
  }
}

/** The human layout: a coloured coordinates line, then the value (CloudEvents pretty-printed). */
export function prettyRecord(record: ConsumedRecord, color: boolean): string {
  const time = new Date(record.timestampMs).toISOString();
  const where = paint(color, 'gray', `${record.topic}/${record.partition}@${record.offset}`);
  const key = record.key === null ? '' : ` ${paint(color, 'yellow', `key=${printable(record.key)}`)}`;
  const event = cloudEventOf(record);
  if (event !== undefined) {
    const head = `${paint(color, 'dim', time)} ${where}${key} ${paint(color, 'bold', paint(color, 'cyan', event.type))}`;
    const attributes = [`source=${event.source}`, `id=${event.id}`, `time=${event.time}`];
    if (event.subject !== undefined) attributes.push(`subject=${event.subject}`);
    if (event.correlationid !== undefined) attributes.push(`correlationid=${event.correlationid}`);
    const data = toJson(event.data, 2)
      .split('\n')
      .map((line) => `  ${paint(color, 'green', line)}`)
      .join('\n');
    return `${head}\n  ${paint(color, 'gray', attributes.join(' '))}\n${data}`;
  }
  const headers =
    record.headers.length === 0 ? '' : ` ${paint(color, 'magenta', formatRecord('%h', record))}`;
  return `${paint(color, 'dim', time)} ${where}${key}${headers}\n  ${printable(record.value)}`;
}
