/** Building blocks of the scenarios: test messages, a collecting subscriber, deadline waits, set diffs. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { MessageHandler, ReceivedMessage, Transport, TransportMessage } from '@herald/bus';
import { printLine, requireTool, withDeadline } from '@herald/bus/testing';

export { printLine, requireTool, withDeadline };

/** Header carrying a test message's id. */
export const ID_HEADER = 'x-conformance-id';
/** How long a scenario waits for a condition before failing. */
export const CONDITION_TIMEOUT_MS = 15_000;

/** A unique topic name for one scenario run. */
export function uniqueTopic(scenario: string): string {
  return `conformance.${scenario.replace(/[^A-Za-z0-9]+/g, '-')}.${randomUUID().slice(0, 8)}`;
}

/**
 * Test messages `prefix-0 … prefix-(count-1)`; `keyOf(index)` picks each one's key, and their
 * `x-sequence` headers count up from `firstSequence` (to continue one order across rounds).
 */
export function makeMessages(
  count: number,
  prefix: string,
  keyOf: (index: number) => string | undefined = () => undefined,
  firstSequence = 0,
): TransportMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    key: keyOf(index),
    headers: { [ID_HEADER]: `${prefix}-${index}`, 'x-sequence': String(firstSequence + index) },
    body: new TextEncoder().encode(JSON.stringify({ index })),
  }));
}

/** The id of a test message. */
export function idOf(message: TransportMessage): string {
  const id = message.headers[ID_HEADER];
  assert.ok(id !== undefined, `received a message without ${ID_HEADER}: ${JSON.stringify(message.headers)}`);
  return id;
}

/** Publishes `messages` in batches of `batchSize`, in order. */
export async function publishAll(
  transport: Transport,
  topic: string,
  messages: TransportMessage[],
  batchSize = 50,
) {
  for (let start = 0; start < messages.length; start += batchSize) {
    await transport.publish(topic, messages.slice(start, start + batchSize));
  }
}

/**
 * Resolves when `condition()` holds, re-checking every few milliseconds; fails with `what()`'s
 * description after the deadline. A condition wait, not a sleep: it returns as soon as it holds.
 */
export async function eventually(
  condition: () => boolean,
  what: () => string,
  timeoutMs = CONDITION_TIMEOUT_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** How long no new delivery may arrive before {@link quiet} says a subscriber has settled. */
export const QUIET_MS = 300;

/**
 * Resolves once `count()` has not changed for `quietMs` (bounded by the condition deadline). Run
 * before a "no duplicates" or "nothing more" check, so a late redelivery has its window to show
 * instead of being checked at the instant of the last expected ack.
 */
export async function quiet(
  count: () => number,
  what: string,
  quietMs = QUIET_MS,
  timeoutMs = CONDITION_TIMEOUT_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = count();
  let stableSince = performance.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const now = performance.now();
    const current = count();
    if (current !== last) {
      last = current;
      stableSince = now;
    } else if (now - stableSince >= quietMs) {
      return;
    }
    if (now > deadline) assert.fail(`${what} never went quiet for ${quietMs} ms within ${timeoutMs} ms`);
  }
}

/** Asserts that the messages of each key arrived in the order of their `x-sequence` header. */
export function assertOrderedPerKey(messages: readonly ReceivedMessage[], label: string): void {
  const lastByKey = new Map<string, number>();
  for (const message of messages) {
    if (message.key === undefined) continue;
    const sequence = Number(message.headers['x-sequence']);
    const last = lastByKey.get(message.key);
    assert.ok(
      last === undefined || sequence > last,
      `${label}: key ${message.key} delivered sequence ${sequence} after ${last}`,
    );
    lastByKey.set(message.key, sequence);
  }
}

/** What a {@link Collector} does with a delivery: settle it either way, or hold it unsettled. */
export type Decision = 'ack' | 'nack' | 'hold';

/** Calls `read` until its value satisfies `accept`, then returns that value; fails after the deadline. */
export async function until<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
  timeoutMs = CONDITION_TIMEOUT_MS,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A subscriber that records every delivery and by default acks it. */
export class Collector {
  readonly deliveries: ReceivedMessage[] = [];
  readonly acked: string[] = [];
  readonly #decide: (message: ReceivedMessage) => Promise<Decision> | Decision;

  constructor(decide: (message: ReceivedMessage) => Promise<Decision> | Decision = () => 'ack') {
    this.#decide = decide;
  }

  readonly handler: MessageHandler = async (message) => {
    this.deliveries.push(message);
    const decision = await this.#decide(message);
    if (decision === 'ack') {
      await message.ack();
      this.acked.push(idOf(message));
    } else if (decision === 'nack') {
      await message.nack();
    }
  };

  /** Distinct ids acked so far. */
  ackedIds(): Set<string> {
    return new Set(this.acked);
  }

  /** Waits until every id in `ids` has been acked. */
  async waitAcked(ids: Iterable<string>, label = 'subscriber'): Promise<void> {
    const wanted = [...ids];
    await eventually(
      () => {
        const got = this.ackedIds();
        return wanted.every((id) => got.has(id));
      },
      () => `${label} to ack ${wanted.length} messages; ${describeDiff(wanted, this.acked)}`,
    );
  }
}

/** "missing: …; extra: …" for two id collections, capped so a failure stays readable. */
export function describeDiff(expected: Iterable<string>, actual: Iterable<string>): string {
  const want = new Set(expected);
  const got = new Set(actual);
  const missing = [...want].filter((id) => !got.has(id));
  const extra = [...got].filter((id) => !want.has(id));
  const show = (ids: string[]) =>
    ids.length > 20 ? `${ids.slice(0, 20).join(', ')} … (${ids.length})` : ids.join(', ');
  return `missing ${missing.length} [${show(missing)}]; extra ${extra.length} [${show(extra)}]`;
}

/** Asserts two id collections hold the same distinct ids, naming missing and extra ones. */
export function assertSameIds(expected: Iterable<string>, actual: Iterable<string>, label: string): void {
  const want = new Set(expected);
  const got = new Set(actual);
  const same = want.size === got.size && [...want].every((id) => got.has(id));
  assert.ok(same, `${label}: ${describeDiff(want, got)}`);
}

/** Asserts no id occurs twice. */
export function assertNoDuplicates(ids: readonly string[], label: string): void {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) duplicates.push(id);
    seen.add(id);
  }
  assert.deepEqual(
    duplicates,
    [],
    `${label}: delivered more than once: ${duplicates.slice(0, 20).join(', ')}`,
  );
}
