/** Shared test helpers: temporary data directories, deadline waits, test messages. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ReceivedMessage, TransportMessage } from '@herald/bus';

/** A fresh empty directory under the OS temp dir. */
export function freshDirectory(): string {
  return mkdtempSync(path.join(tmpdir(), 'herald-broker-test-'));
}

/** Resolves once `condition()` holds; fails naming `what` after a deadline. Not a sleep. */
export { eventually as waitFor } from '@herald/conformance';

/** Messages `prefix-0…` with `x-id` and `x-sequence` headers; `keyOf` picks keys. */
export function messages(
  count: number,
  prefix: string,
  keyOf: (index: number) => string | undefined = () => undefined,
): TransportMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    key: keyOf(index),
    headers: { 'x-id': `${prefix}-${index}`, 'x-sequence': String(index) },
    body: new TextEncoder().encode(String(index)),
  }));
}

/** The id of a test message. */
export function idOf(message: ReceivedMessage): string {
  return message.headers['x-id']!;
}
