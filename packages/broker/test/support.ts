/**
 * Helpers of the broker tests: test messages, and closing what a test opened even when it failed.
 * The generic ones (temporary directories, waits, deadlines) come from `@herald/test-support`.
 */
import { afterEach } from 'node:test';
import type { ReceivedMessage, TransportMessage } from '@herald/bus';
import { temporaryDirectory } from '@herald/test-support';

/** A fresh empty data directory, removed when the test process exits. */
export function freshDirectory(): string {
  return temporaryDirectory('herald-broker-test-');
}

/**
 * Everything a test opened through {@link tracked}: closed after each test even when an assertion
 * failed (closing twice is a no-op). The `afterEach` hook is registered when this module loads, so
 * it applies to every test of the file that imports it.
 */
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const resource of opened.splice(0)) await resource.close().catch(() => {});
});

/** Returns `resource`, closed after the current test (see {@link opened}). */
export function tracked<T extends { close(): Promise<void> }>(resource: T): T {
  opened.push(resource);
  return resource;
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
