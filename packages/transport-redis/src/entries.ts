/**
 * How a Herald message is stored as a stream entry: field `h` the headers as JSON, `b` the body
 * bytes, `k` the key when there is one. Decoding reads Buffers, so bodies keep their exact bytes.
 */
import type { TransportMessage } from '@herald/bus';

/** The field/value list of `XADD` for `message`. */
export function entryFields(message: TransportMessage): (string | Buffer)[] {
  const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
  const fields: (string | Buffer)[] = ['h', JSON.stringify(message.headers), 'b', body];
  if (message.key !== undefined) fields.push('k', message.key);
  return fields;
}

/** A stream entry read back. */
export interface StoredMessage {
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * The message of an entry's field/value list, or undefined when the list is not Herald's (a foreign
 * producer's entry, or null: an entry trimmed away while pending).
 */
export function decodeEntry(fields: readonly Buffer[] | null): StoredMessage | undefined {
  if (fields === null) return undefined;
  let headers: Record<string, string> | undefined;
  let body: Uint8Array | undefined;
  let key: string | undefined;
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const name = fields[index]!.toString();
    const value = fields[index + 1]!;
    if (name === 'h') headers = parseHeaders(value.toString());
    else if (name === 'b') body = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    else if (name === 'k') key = value.toString();
  }
  if (headers === undefined || body === undefined) return undefined;
  return { key, headers, body };
}

function parseHeaders(text: string): Record<string, string> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    for (const value of Object.values(parsed)) if (typeof value !== 'string') return undefined;
    return parsed as Record<string, string>;
  } catch {
    return undefined;
  }
}
