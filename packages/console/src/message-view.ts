/** Turns records as the CLI's targets read them into the page's {@link MessageView}. */
import { type ConsumedRecord, headerMap } from '@herald/cli/internal';
import type { MessageView, PayloadView } from './api-types.ts';

/** Bytes shown in hex at most (a larger binary value is cut; the page says how big it is). */
const HEX_BYTES_MAX = 4096;
/** Prefix of binary-mode CloudEvents headers. */
const CLOUD_EVENT_PREFIX = 'ce_';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A key or value as JSON (pretty-printed), text, or hex when it is not UTF-8. */
export function payloadOf(bytes: Uint8Array | null): PayloadView | null {
  if (bytes === null) return null;
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    const hex = Buffer.from(bytes.subarray(0, HEX_BYTES_MAX))
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 ');
    return { kind: 'hex', text: hex, sizeBytes: bytes.length };
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(text), null, 2), sizeBytes: bytes.length };
    } catch {
      // Not JSON after all: shown as text.
    }
  }
  return { kind: 'text', text, sizeBytes: bytes.length };
}

/** The page's view of `record`. */
export function messageViewOf(record: ConsumedRecord): MessageView {
  const headers = headerMap(record);
  const cloudEvent: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(CLOUD_EVENT_PREFIX)) cloudEvent[name.slice(CLOUD_EVENT_PREFIX.length)] = value;
  }
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestampMs: record.timestampMs,
    key: payloadOf(record.key),
    value: payloadOf(record.value),
    headers: Object.entries(headers),
    cloudEvent: cloudEvent.type === undefined ? null : cloudEvent,
  };
}

/** Whether `bytes` holds `needle` from some position: a native scan for its first byte, then a compare. */
function includesBytes(bytes: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0]!;
  const last = bytes.length - needle.length;
  for (let at = bytes.indexOf(first); at !== -1 && at <= last; at = bytes.indexOf(first, at + 1)) {
    let index = 1;
    while (index < needle.length && bytes[at + index] === needle[index]) index++;
    if (index === needle.length) return true;
  }
  return false;
}

/**
 * A test of whether a record's key, value or a header name or value contains `needle`
 * (case-sensitive, on the bytes). Made once per search: it encodes the needle once and allocates
 * nothing per record, since a search runs it on up to millions of records.
 */
export function recordMatcher(needle: string): (record: ConsumedRecord) => boolean {
  const bytes = new TextEncoder().encode(needle);
  if (bytes.length === 0) return () => true;
  return (record) => {
    if (record.key !== null && includesBytes(record.key, bytes)) return true;
    if (record.value !== null && includesBytes(record.value, bytes)) return true;
    for (const [name, value] of record.headers) {
      if (name.includes(needle) || (value !== null && includesBytes(value, bytes))) return true;
    }
    return false;
  };
}
