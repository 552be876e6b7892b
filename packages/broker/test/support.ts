/** Shared test helpers: temporary data directories, deadline waits, test messages. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ReceivedMessage, TransportMessage } from '@herald/bus';

/** A fresh empty directory under the OS temp dir. */
export function freshDirectory(): string {
  return mkdtempSync(path.join(tmpdir(), 'herald-broker-test-'));
}

/** Resolves once `condition()` holds; fails naming `what` after `timeoutMs`. Not a sleep. */
export async function waitFor(
  condition: () => boolean,
  what: () => string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

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
