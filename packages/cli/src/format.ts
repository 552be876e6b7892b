/**
 * How records are printed: kcat-style format strings (`-f '%t %p %o %k %s\n'`), JSON lines (one
 * object per record, for pipes and jq), and a coloured human layout that pretty-prints
 * CloudEvents (type, source, id and time on one line, the JSON data indented below).
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

/** The JSON object of one record (`--json`): stable field names, offsets as strings. */
export function recordJson(record: ConsumedRecord): Record<string, unknown> {
  const value = textOf(record.value);
  const event = cloudEventOf(record);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: new Date(record.timestampMs).toISOString(),
    timestampMs: record.timestampMs,
    key: record.key === null ? null : printable(record.key),
    headers: headerMap(record),
    ...(record.value === null
      ? { value: null }
      : value === undefined
        ? { value: Buffer.from(record.value).toString('base64'), valueEncoding: 'base64' }
        : { value }),
    ...(event === undefined ? {} : { cloudEvent: event }),
  };
}

/**
 * Renders `record` with a kcat format string: `%t` topic, `%p` partition, `%o` offset, `%k` key,
 * `%K` key length, `%s` value, `%S` value length, `%h` headers (`name=value,…`), `%T` timestamp
 * (ms), `%%` a percent sign; `\n`, `\t`, `\r` and `\\` escapes. Unknown tokens are kept as typed.
 */
export function formatRecord(format: string, record: ConsumedRecord): string {
  return format.replace(/%[tpokKsShT%]|\\[ntr\\]/g, (token) => {
    switch (token) {
      case '%t':
        return record.topic;
      case '%p':
        return String(record.partition);
      case '%o':
        return String(record.offset);
      case '%k':
        return printable(record.key);
      case '%K':
        return record.key === null ? '-1' : String(record.key.length);
      case '%s':
        return printable(record.value);
      case '%S':
        return record.value === null ? '-1' : String(record.value.length);
      case '%h':
        return record.headers.map(([name, value]) => `${name}=${printable(value)}`).join(',');
      case '%T':
        return String(record.timestampMs);
      case '%%':
        return '%';
      case '\\n':
        return '\n';
      case '\\t':
        return '\t';
      case '\\r':
        return '\r';
      default:
        return '\\';
    }
  });
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
