/**
 * Herald headers ↔ NATS headers. CloudEvents attributes travel with the `ce-` prefix of the
 * CloudEvents NATS binding (binary mode); Herald's `ce_` names are mapped both ways. The key
 * travels in `herald-key`; `Nats-*` headers belong to the server and client.
 */
import { TransportError, type TransportMessage } from '@herald/bus';
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';

/** The header carrying the message key. */
export const KEY_HEADER = 'herald-key';
/**
 * Names (space-separated) of headers whose values were percent-encoded because NATS headers cannot
 * carry them as they are: line breaks (an error's stack in a dead letter) or surrounding blanks.
 */
export const ENCODED_HEADER = 'herald-encoded';
/** Prefix of CloudEvents attributes on NATS (the CloudEvents NATS binding's). */
export const CE_NATS_PREFIX = 'ce-';
const CE_HERALD_PREFIX = 'ce_';
/** Header names NATS accepts: printable ASCII without ':' or spaces. */
const NAME_LEGAL = /^[!-9;-~]+$/;
const RESERVED = /^(herald-|nats-|ce-)/i;
/** Values a NATS header line cannot carry unchanged. */
const NEEDS_ENCODING = /[\r\n]|^\s|\s$/;

/**
 * The NATS headers of `message`, and their encoded size (what they add to the payload). Throws a
 * {@link TransportError} for a header NATS cannot carry or a reserved name.
 */
export function toNatsHeaders(
  topic: string,
  message: TransportMessage,
): { headers: MsgHdrs; sizeBytes: number } {
  const headers = natsHeaders();
  // "NATS/1.0\r\n" and the closing "\r\n", plus the Nats-Msg-Id the client may add.
  let sizeBytes = 12 + 64;
  const source = message.headers;
  const encoded: string[] = [];
  for (const name of Object.keys(source)) {
    const value = source[name]!;
    if (!NAME_LEGAL.test(name) || RESERVED.test(name)) {
      throw new TransportError(
        `nats transport: header "${name}" on topic "${topic}" cannot travel on NATS: names must be printable ` +
          'ASCII without ":" or spaces, and not start with "herald-", "nats-" or "ce-"; rename it',
      );
    }
    const natsName = name.startsWith(CE_HERALD_PREFIX) ? CE_NATS_PREFIX + name.slice(3) : name;
    let carried = value;
    if (NEEDS_ENCODING.test(value)) {
      carried = encodeURIComponent(value);
      encoded.push(natsName);
    }
    headers.set(natsName, carried);
    sizeBytes += Buffer.byteLength(natsName) + Buffer.byteLength(carried) + 4;
  }
  if (encoded.length > 0) {
    const names = encoded.join(' ');
    headers.set(ENCODED_HEADER, names);
    sizeBytes += ENCODED_HEADER.length + names.length + 4;
  }
  if (message.key !== undefined) {
    headers.set(KEY_HEADER, message.key);
    sizeBytes += KEY_HEADER.length + Buffer.byteLength(message.key) + 4;
  }
  return { headers, sizeBytes };
}

/** Herald's headers and key from received NATS headers. */
export function fromNatsHeaders(headers: MsgHdrs | undefined): {
  headers: Record<string, string>;
  key: string | undefined;
} {
  const result: Record<string, string> = {};
  let key: string | undefined;
  if (headers === undefined) return { headers: result, key };
  const encoded = headers.has(ENCODED_HEADER) ? new Set(headers.get(ENCODED_HEADER).split(' ')) : undefined;
  for (const name of headers.keys()) {
    if (name === ENCODED_HEADER) continue;
    const raw = headers.get(name);
    const value = encoded?.has(name) ? decodeURIComponent(raw) : raw;
    if (name === KEY_HEADER) key = value;
    else if (name.startsWith(CE_NATS_PREFIX)) result[CE_HERALD_PREFIX + name.slice(3)] = value;
    else if (!/^nats-/i.test(name)) result[name] = value;
  }
  return { headers: result, key };
}
