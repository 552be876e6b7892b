/**
 * The test kit: a bus on the in-memory transport that records what was published, so a test can
 * wait for an event instead of sleeping.
 *
 * @example
 * await using t = createTestBus();
 * await t.publish(OrderCreated, { orderId: 'o-1', total: 5 });
 * const envelope = await t.published(OrderCreated, (order) => order.orderId === 'o-1');
 */
import { spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { createBus } from './bus.ts';
import type { Bus, BusOptions } from './bus-api.ts';
import type { Contract, PayloadOf } from './contracts.ts';
import { decodeEnvelope, type Envelope, type TransportMessage } from './envelope.ts';
import { TimeoutError } from './errors.ts';
import { silentLogger } from './logger.ts';
import { memoryTransport } from './memory-transport.ts';
import type { Transport } from './transport.ts';

/** A bus that remembers every message published through it. */
export interface TestBus extends Bus {
  /**
   * Resolves with the first envelope of `contract` (published before or after the call) whose
   * payload satisfies `predicate`; rejects with `TimeoutError` after `timeoutMs` (default 5 s).
   */
  published<C extends Contract>(
    contract: C,
    predicate?: (data: PayloadOf<C>, envelope: Envelope<PayloadOf<C>>) => boolean,
    options?: { readonly timeoutMs?: number },
  ): Promise<Envelope<PayloadOf<C>>>;
  /** Every envelope of `contract` published so far, in order. */
  publishedAll<C extends Contract>(contract: C): Envelope<PayloadOf<C>>[];
}

type Waiter = (envelope: Envelope) => boolean;

/** Creates a {@link TestBus} on a fresh memory transport (or on `options.transport`). Logs nothing by default. */
export function createTestBus(options: Partial<BusOptions> = {}): TestBus {
  const log: { topic: string; envelope: Envelope }[] = [];
  const waiters = new Set<Waiter>();
  const inner = options.transport ?? memoryTransport();
  const recording: Transport = {
    name: inner.name,
    features: inner.features,
    subscribe: (subscribeOptions, handler) => inner.subscribe(subscribeOptions, handler),
    close: () => inner.close(),
    ...(inner.health === undefined ? {} : { health: () => inner.health!() }),
    async publish(topic: string, messages: readonly TransportMessage[]) {
      await inner.publish(topic, messages);
      for (const message of messages) {
        let envelope: Envelope;
        try {
          envelope = decodeEnvelope(message);
        } catch {
          continue; // Raw bytes a test injected on purpose: nothing to record.
        }
        log.push({ topic, envelope });
        for (const waiter of waiters) if (waiter(envelope)) waiters.delete(waiter);
      }
    },
  };
  const bus = createBus({ logger: silentLogger, ...options, transport: recording });
  const matches = (contract: Contract, envelope: Envelope) => envelope.type === contract.type;

  return Object.assign(bus, {
    published<C extends Contract>(
      contract: C,
      predicate: (data: PayloadOf<C>, envelope: Envelope<PayloadOf<C>>) => boolean = () => true,
      waitOptions: { readonly timeoutMs?: number } = {},
    ): Promise<Envelope<PayloadOf<C>>> {
      const test = (envelope: Envelope) =>
        matches(contract, envelope) &&
        predicate(envelope.data as PayloadOf<C>, envelope as Envelope<PayloadOf<C>>);
      const earlier = log.find((entry) => test(entry.envelope));
      if (earlier !== undefined) return Promise.resolve(earlier.envelope as Envelope<PayloadOf<C>>);
      const timeoutMs = waitOptions.timeoutMs ?? 5000;
      return new Promise((resolve, reject) => {
        const waiter: Waiter = (envelope) => {
          if (!test(envelope)) return false;
          clearTimeout(timer);
          resolve(envelope as Envelope<PayloadOf<C>>);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new TimeoutError(
              `no "${contract.type}" matching the predicate was published within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    publishedAll<C extends Contract>(contract: C): Envelope<PayloadOf<C>>[] {
      return log
        .filter((entry) => matches(contract, entry.envelope))
        .map((entry) => entry.envelope as Envelope<PayloadOf<C>>);
    },
  });
}

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

/**
 * Writes `line` to stdout synchronously, for crash-test children whose parent must see every
 * line printed before a SIGKILL. `process.stdout.write` to a pipe is asynchronous (measured: lines
 * written just before a SIGKILL go missing); `writeSync` on the non-blocking pipe retries EAGAIN
 * until the parent has read enough, bounded by the attempts.
 */
export function printLine(line: string): void {
  for (let attempt = 0; attempt < 10_000_000; attempt++) {
    try {
      writeSync(1, `${line}\n`);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
  throw new Error('stdout stayed full: the parent stopped reading');
}
