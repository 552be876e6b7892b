/** Building blocks of the scenarios: test messages, a collecting subscriber, deadline waits, set diffs. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { MessageHandler, ReceivedMessage, Transport, TransportMessage } from '@herald/bus';

/** Header carrying a test message's id. */
export const ID_HEADER = 'x-conformance-id';
/** How long a scenario waits for a condition before failing. */
export const CONDITION_TIMEOUT_MS = 15_000;

/** A unique topic name for one scenario run. */
export function uniqueTopic(scenario: string): string {
  return `conformance.${scenario.replace(/[^A-Za-z0-9]+/g, '-')}.${randomUUID().slice(0, 8)}`;
}

/** Test messages `prefix-0 … prefix-(count-1)`; `keyOf(index)` picks each one's key. */
export function makeMessages(
  count: number,
  prefix: string,
  keyOf: (index: number) => string | undefined = () => undefined,
): TransportMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    key: keyOf(index),
    headers: { [ID_HEADER]: `${prefix}-${index}`, 'x-sequence': String(index) },
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

/** What a {@link Collector} does with a delivery: settle it either way, or hold it unsettled. */
export type Decision = 'ack' | 'nack' | 'hold';

/** Resolves like `promise`, or rejects naming `what` after `timeoutMs`; the timer never outlives the wait. */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Throws, naming the missing program and `npm run setup`, unless `command args` runs and exits 0
 * within 10 s. For tests whose real peer is an external tool (kcat, python3-kafka, pika, tmux):
 * call it in a `before` hook so they fail at once with that message, never hang and never skip.
 */
export function requireTool(command: string, args: readonly string[], what = command): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  if (result.status === 0) return;
  const reason =
    result.error !== undefined
      ? result.error.message
      : `exited with ${result.status ?? result.signal}: ${String(result.stderr).trim().slice(-500)}`;
  throw new Error(`${what} is missing (${[command, ...args].join(' ')}: ${reason}): run npm run setup`);
}

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
