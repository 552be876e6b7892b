/** Shared test helpers: temporary data directories, deadline waits, test messages. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ReceivedMessage, TransportMessage } from '@herald/bus';

const directories: string[] = [];
// When the process exits: a module's `after` hook would run before the file's own hooks (those
// registered later), which stop the servers and brokers still using these directories.
process.once('exit', () => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A fresh empty directory under the OS temp dir, removed after the file's tests. */
export function freshDirectory(): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'herald-broker-test-'));
  directories.push(directory);
  return directory;
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
