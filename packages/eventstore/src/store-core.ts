/**
 * The public {@link EventStore} over a {@link StoreBackend}: option checks, encoding and decoding,
 * subscriptions, and closing. Backends only store and fetch.
 */
import { ClosedError, ConfigurationError, type EventContract } from '@herald/bus';
import type { StoreBackend } from './backend.ts';
import { assertStreamName, EventDecoder, encodeEvents } from './codec.ts';
import { startPageLoop } from './subscription.ts';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type EventToAppend,
  type ExpectedVersion,
  READ_COUNT_MAX,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from './types.ts';

/** Refuses an expected version that is neither `'any'` nor a non-negative integer. */
function assertExpectedVersion(stream: string, expected: ExpectedVersion): void {
  if (expected === 'any') return;
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new ConfigurationError(
      `appendToStream("${stream}"): expectedVersion must be 'any' or an integer >= 0 (0: the stream must not exist), got ${String(expected)}`,
    );
  }
}

function readCount(value: number | undefined, what: string): number {
  const count = value ?? READ_COUNT_MAX;
  if (!Number.isInteger(count) || count < 1 || count > READ_COUNT_MAX) {
    throw new ConfigurationError(
      `${what}: countMax must be an integer from 1 to ${READ_COUNT_MAX}, got ${count}`,
    );
  }
  return count;
}

/** The event store over one backend. */
export class StoreCore implements EventStore {
  readonly #backend: StoreBackend;
  readonly #decoder: EventDecoder;
  readonly #subscriptions = new Set<Subscription>();
  #closed = false;

  constructor(backend: StoreBackend, contracts: readonly EventContract[]) {
    this.#backend = backend;
    this.#decoder = new EventDecoder(contracts);
  }

  get backend(): string {
    return this.#backend.name;
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw new ClosedError(`event store (${what})`);
  }

  async appendToStream(
    stream: string,
    events: readonly EventToAppend[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    this.#assertOpen('appendToStream');
    const expected = options.expectedVersion ?? 'any';
    assertExpectedVersion(stream, expected);
    const encoded = await encodeEvents(stream, events);
    for (const event of events) this.#decoder.learn(event.contract);
    this.#assertOpen('appendToStream');
    return this.#backend.append(stream, encoded, expected);
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.#assertOpen('readStream');
    assertStreamName(stream);
    const direction = options.direction ?? 'forward';
    if (direction !== 'forward' && direction !== 'backward') {
      throw new ConfigurationError(
        `readStream: direction must be 'forward' or 'backward', got ${String(direction)}`,
      );
    }
    const fromVersion = options.fromVersion ?? (direction === 'forward' ? 1 : Number.MAX_SAFE_INTEGER);
    if (!Number.isSafeInteger(fromVersion) || fromVersion < 0) {
      throw new ConfigurationError(`readStream: fromVersion must be an integer >= 0, got ${fromVersion}`);
    }
    const countMax = readCount(options.countMax, 'readStream');
    const stored = await this.#backend.readStream(stream, fromVersion, direction, countMax);
    return stored.map((event) => this.#decoder.decode(event));
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    this.#assertOpen('readAll');
    const fromPosition = options.fromPosition ?? 0n;
    if (typeof fromPosition !== 'bigint' || fromPosition < 0n) {
      throw new ConfigurationError(
        `readAll: fromPosition must be a bigint >= 0n, got ${String(fromPosition)}`,
      );
    }
    const page = await this.#backend.readAll(fromPosition, readCount(options.countMax, 'readAll'));
    return {
      events: page.events.map((event) => this.#decoder.decode(event)),
      nextPosition: page.nextPosition,
    };
  }

  streamVersion(stream: string): Promise<number> {
    this.#assertOpen('streamVersion');
    assertStreamName(stream);
    return this.#backend.streamVersion(stream);
  }

  headPosition(): Promise<bigint> {
    this.#assertOpen('headPosition');
    return this.#backend.headPosition();
  }

  subscribe(
    options: SubscribeOptions,
    handler: (event: RecordedEvent) => Promise<void> | void,
  ): Subscription {
    this.#assertOpen('subscribe');
    const what = `subscribe("${options.name}")`;
    if (typeof options.name !== 'string' || options.name.length === 0) {
      throw new ConfigurationError('subscribe: name must be a non-empty string (it keys the checkpoint)');
    }
    const checkpoints = options.checkpoints;
    const subscription: Subscription = startPageLoop(
      this.#backend,
      this.#decoder,
      {
        what,
        category: options.category,
        pageCountMax: options.pageCountMax,
        start: async () => (await checkpoints?.load(options.name)) ?? options.fromPosition ?? 0n,
        handlePage: async (events, nextPosition) => {
          for (const event of events) await handler(event);
          await checkpoints?.save(options.name, nextPosition);
        },
      },
      () => this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /** Runs a page loop for a projection (same loop as `subscribe`, different page handling). */
  startLoop(options: Parameters<typeof startPageLoop>[2]): Subscription {
    this.#assertOpen(options.what);
    const loop: Subscription = startPageLoop(this.#backend, this.#decoder, options, () =>
      this.#subscriptions.delete(loop),
    );
    this.#subscriptions.add(loop);
    return loop;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#backend.close();
  }
}
