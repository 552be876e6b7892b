/**
 * The outbox relay: publishes what transactions staged in an {@link OutboxStore}, after their
 * commit. It is woken by the store right after such a commit (no polling on the fast path); a
 * fallback pass every `fallbackIntervalMs` picks up rows nobody woke it for (a crashed process's,
 * a commit on another connection the store cannot see). Per key, rows go out one after another in
 * staging order; different keys go out concurrently. Sent rows are pruned after `retentionMs`.
 */
import type { PublishOptions } from './context.ts';
import type { CommandContract, Contract, EventContract } from './contracts.ts';
import { ConfigurationError } from './errors.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { Logger } from './logger.ts';
import type { BusMetrics } from './metrics.ts';
import type { OutboxStore, StagedRecord } from './outbox.ts';

/** Options of the relay a bus runs over its idempotency store's outbox (`createBus({ outboxRelay })`). */
export interface OutboxRelayOptions {
  /** Rows one pass takes, and so the most published at once: 1…1000 (default 100). */
  readonly batchRows?: number;
  /**
   * Interval of the fallback pass, which finds rows left by a crashed process or committed where
   * the store could not wake the relay; also how often the lag metric is reported. 10 ms…10 min
   * (default 1 s).
   */
  readonly fallbackIntervalMs?: number;
  /** How long sent rows are kept before they are pruned: 0…30 days (default 1 hour). */
  readonly retentionMs?: number;
  /** Interval between prunes: 1 s…1 day (default 1 minute). */
  readonly pruneIntervalMs?: number;
  /**
   * CloudEvents extension that carries each row's staging sequence number (default none), so a
   * consumer can check the order per key.
   */
  readonly sequenceExtension?: string;
}

/** Relay passes after one wake-up at most (each at most `batchRows`), so a wake-up ends; the next continues. */
export const RELAY_PASSES_PER_WAKE_MAX = 1000;

interface RelaySettings {
  readonly batchRows: number;
  readonly fallbackIntervalMs: number;
  readonly retentionMs: number;
  readonly pruneIntervalMs: number;
  readonly sequenceExtension: string | undefined;
}

function checked(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  const result = value ?? fallback;
  if (!(Number.isFinite(result) && result >= min && result <= max)) {
    throw new ConfigurationError(
      `createBus: outboxRelay.${name} must be from ${min} to ${max}, got ${value}`,
    );
  }
  return result;
}

/** Checks `options` and fills in the defaults; throws `ConfigurationError` on a value out of bounds. */
export function relaySettings(options: OutboxRelayOptions = {}): RelaySettings {
  const extension = options.sequenceExtension;
  if (extension !== undefined && !/^[a-z0-9]{1,20}$/.test(extension)) {
    throw new ConfigurationError(
      `createBus: outboxRelay.sequenceExtension must be 1-20 lower-case letters or digits, got ${JSON.stringify(extension)}`,
    );
  }
  return {
    batchRows: checked(options.batchRows, 100, 1, 1000, 'batchRows'),
    fallbackIntervalMs: checked(options.fallbackIntervalMs, 1000, 10, 600_000, 'fallbackIntervalMs'),
    retentionMs: checked(options.retentionMs, 3_600_000, 0, 30 * 86_400_000, 'retentionMs'),
    pruneIntervalMs: checked(options.pruneIntervalMs, 60_000, 1000, 86_400_000, 'pruneIntervalMs'),
    sequenceExtension: extension,
  };
}

/** What the relay needs from its bus. */
export interface RelayHost {
  readonly source: string;
  readonly logger: Logger;
  readonly metrics: BusMetrics | undefined;
  /** The contract of a CloudEvents type: the relay publishes rows by their type. */
  contractOf(type: string): Contract | undefined;
  publish(event: EventContract, data: never, options: PublishOptions): Promise<unknown>;
  send(command: CommandContract, data: never, options: PublishOptions): Promise<unknown>;
}

/** The relay a bus runs for `store`'s outbox: none when the store has no outbox or `options` is `false`. */
export function outboxRelayOf(
  store: IdempotencyStore | undefined,
  options: OutboxRelayOptions | false | undefined,
  host: RelayHost,
): OutboxRelay | undefined {
  if (store?.outbox === undefined || options === false) return undefined;
  return new OutboxRelay(store.outbox, host, relaySettings(options));
}

/** Publishes an outbox's rows after commit; see the file comment. */
export class OutboxRelay {
  readonly store: OutboxStore;
  readonly #host: RelayHost;
  readonly #settings: RelaySettings;
  #draining: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #fallbackTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #unwatch: (() => Promise<void>) | undefined;
  #started = false;

  constructor(store: OutboxStore, host: RelayHost, settings: RelaySettings) {
    this.store = store;
    this.#host = host;
    this.#settings = settings;
  }

  /** Starts listening for commits and the timers, and publishes what is left unsent at once. */
  start(): void {
    this.#started = true;
    this.#unwatch = this.store.watch(() => this.wake());
    this.#fallbackTimer = setInterval(() => {
      this.wake();
      void this.#reportLag();
    }, this.#settings.fallbackIntervalMs);
    this.#pruneTimer = setInterval(() => void this.#prune(), this.#settings.pruneIntervalMs);
    // Timers never keep a process alive on their own.
    this.#fallbackTimer.unref();
    this.#pruneTimer.unref();
    this.wake();
  }

  /** Runs passes until nothing is left to publish (coalesces: a wake-up during a run runs once more after it). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#draining !== undefined) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        this.wake();
      }
    });
  }

  /** Resolves once the current run (if any) has ended; for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  /**
   * Stops listening and the timers, then runs a last drain: rows committed by handlers that
   * drained during the bus's stop go out before the transport closes.
   */
  async stop(): Promise<void> {
    if (!this.#started || this.#stopped) return;
    clearInterval(this.#fallbackTimer);
    clearInterval(this.#pruneTimer);
    await this.#unwatch?.().catch(() => undefined);
    this.#stopped = true;
    await this.idle();
    await this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      for (let pass = 0; pass < RELAY_PASSES_PER_WAKE_MAX; pass++) {
        const result = await this.store.relay(this.#settings.batchRows, (records) =>
          this.#publishAll(records),
        );
        // Nothing published: the rest (if any) waits for another relay, a commit or the fallback pass.
        if (result.failed || result.published === 0) return;
      }
    } catch (error) {
      this.#host.logger.warn(
        { outbox: this.store.name, error: String(error) },
        `outbox relay pass failed; retrying in ${this.#settings.fallbackIntervalMs} ms`,
      );
    }
  }

  /** Publishes `records`: per key in order, keys concurrently. Resolves the ids that went out. */
  async #publishAll(records: readonly StagedRecord[]): Promise<ReadonlySet<string>> {
    const chains = new Map<string, StagedRecord[]>();
    for (const record of records) {
      // Rows without a key have no order to keep: each is a chain of its own.
      const chain = record.key === undefined ? `\u0000${record.id}` : record.key;
      const list = chains.get(chain);
      if (list === undefined) chains.set(chain, [record]);
      else list.push(record);
    }
    const published = new Set<string>();
    await Promise.all(
      [...chains.values()].map(async (chain) => {
        for (const record of chain) {
          try {
            await this.#publish(record);
            published.add(record.id);
          } catch (error) {
            // Later rows of this key must not overtake it: the chain stops here until the next pass.
            this.#host.logger.warn(
              {
                outbox: this.store.name,
                id: record.id,
                type: record.type,
                key: record.key,
                error: String(error),
              },
              'outbox relay could not publish a staged message; it stays unsent and is retried',
            );
            return;
          }
        }
      }),
    );
    return published;
  }

  /** Publishes `record` as it was staged: its id, key, correlation, causation and trace context. */
  async #publish(record: StagedRecord): Promise<void> {
    const contract = this.#host.contractOf(record.type);
    if (contract === undefined || contract.kind === 'query') {
      throw new ConfigurationError(
        `outbox: the relaying bus has no contract of type "${record.type}" (staged message ${record.id}); ` +
          'pass it in createBus({ contracts }) so the relay can publish it',
      );
    }
    const { id, source, key, subject, correlationId, causationId, traceparent } = record;
    const options = {
      id,
      source,
      key,
      subject,
      correlationId,
      causationId,
      traceparent,
      extensions: this.#extensions(record),
      // A time that has passed by now is due at once: the bus publishes it unscheduled.
      ...(record.deliverAtMs === undefined ? {} : { deliverAt: record.deliverAtMs }),
    };
    // The payload was validated when staged; the bus validates it again on the way out.
    const data = JSON.parse(record.data) as never;
    if (contract.kind === 'event') await this.#host.publish(contract, data, options);
    else await this.#host.send(contract, data, options);
  }

  #extensions(record: StagedRecord): Record<string, string> {
    const extensions: Record<string, string> = { ...record.extensions };
    if (record.tracestate !== undefined) extensions.tracestate = record.tracestate;
    if (this.#settings.sequenceExtension !== undefined) {
      extensions[this.#settings.sequenceExtension] = String(record.seq);
    }
    return extensions;
  }

  async #reportLag(): Promise<void> {
    const report = this.#host.metrics?.outboxLag;
    if (report === undefined) return;
    try {
      const lag = await this.store.lag();
      report.call(this.#host.metrics, this.#host.source, lag.unsentCount, lag.oldestUnsentAgeMs);
    } catch (error) {
      this.#host.logger.debug({ outbox: this.store.name, error: String(error) }, 'outbox lag unavailable');
    }
  }

  async #prune(): Promise<void> {
    try {
      await this.store.prune(this.#settings.retentionMs);
    } catch (error) {
      this.#host.logger.warn(
        { outbox: this.store.name, error: String(error) },
        'outbox prune failed; retrying at the next interval',
      );
    }
  }
}
