/**
 * What a consumer group keeps per record in its windows: the record's fields as a delivered message
 * carries them (key and headers as text, the body copied out of the read buffer), its size as the
 * window's byte bound counts it, and the delivery state `DeliveryWindow` keeps.
 */
import type { PendingEntry } from '@herald/bus/internal';
import type { StoredRecord } from './partition-log.ts';

/** A record in a group's window. */
export interface Entry extends PendingEntry {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  readonly sizeBytes: number;
  /** When a held entry returns to the group unless settled. */
  visibleAtMs: number;
}

const decoder = new TextDecoder();

/**
 * `bytes` as text. The log hands out views into the Buffer it read, and `Buffer#toString` decodes
 * a short string in about half the time `TextDecoder.decode` takes (a CloudEvent carries about ten
 * headers, all decoded per delivery). Invalid UTF-8 becomes U+FFFD either way.
 */
function text(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8') : decoder.decode(bytes);
}

/**
 * A copy of `bytes`, so a delivered message does not keep the whole read buffer (up to
 * `fetchBytesMax`) alive. `Buffer#slice` returns a view, not a copy; `Buffer.from` copies a small
 * body into Node's shared 8 KiB pool (0.1 µs for 100 bytes, against 0.6 µs for
 * `Uint8Array#slice`, which allocates its own ArrayBuffer).
 */
function copy(bytes: Uint8Array): Uint8Array {
  return Buffer.isBuffer(bytes) ? Buffer.from(bytes) : bytes.slice();
}

/** The group's entry for `record` of `partition`: headers and key as text, the body copied. */
export function toEntry(partition: number, record: StoredRecord): Entry {
  const headers: Record<string, string> = {};
  let sizeBytes = record.value?.byteLength ?? 0;
  const recordHeaders = record.headers;
  for (let index = 0; index < recordHeaders.length; index++) {
    const [name, value] = recordHeaders[index]!;
    headers[name] = value === null ? '' : text(value);
    sizeBytes += name.length + (value?.byteLength ?? 0);
  }
  sizeBytes += record.key?.byteLength ?? 0;
  return {
    partition,
    offset: record.offset,
    key: record.key === null ? undefined : text(record.key),
    headers,
    body: record.value === null ? new Uint8Array(0) : copy(record.value),
    timestampMs: record.timestampMs,
    sizeBytes,
    // `waitingEntry()`'s fields, written out: a spread per record costs an object and a copy.
    attempt: 1,
    visibleAtMs: 0,
  };
}
