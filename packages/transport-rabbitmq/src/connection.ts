/**
 * One AMQP connection that comes back: the first connect retries until `connectTimeoutMs`; after
 * that, a lost connection is reopened with exponential backoff and jitter, forever, until `close()`.
 * Each successful (re)connection is a new *generation*; channels, declarations and deliveries of
 * an older generation are dead, and their owners rebuild them from the `up` notification.
 */

import {
  ClosedError,
  ConfigurationError,
  type HealthError,
  type HeraldError,
  healthError,
  TransportError,
  type TransportHealth,
} from '@herald/bus';
import { type ChannelModel, connect } from 'amqplib';
import { connectError, describeEndpoint } from './errors.ts';
import type { ResolvedOptions } from './options.ts';

/** A live connection and its generation number (1 for the first connection). */
export interface Live {
  readonly model: ChannelModel;
  readonly generation: number;
}

/** Listener of connection state changes. */
export interface ConnectionListener {
  /** A new connection is open; rebuild channels on it. */
  up(live: Live): void;
  /** The connection of `generation` is gone; its channels and deliveries are dead. */
  down(generation: number): void;
}

/** AMQP frame size asked for: RabbitMQ's default, so a 1 MiB message takes 8 frames, not 256. */
const FRAME_BYTES_MAX = 131_072;

/** The transport's connection, reopened after every loss. */
export class ConnectionManager {
  readonly #options: ResolvedOptions;
  readonly #listeners = new Set<ConnectionListener>();
  readonly #waiters = new Set<() => void>();
  #live: Live | undefined;
  #generation = 0;
  #closed = false;
  #failures = 0;
  #lastError: HeraldError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;
  /** The last loss or failed (re)connection, for `health()`. */
  #lastHealthError: HealthError | undefined;
  /** Connections lost and reopened since the transport was created. */
  reconnects = 0;

  constructor(options: ResolvedOptions) {
    this.#options = options;
  }

  /** Opens the first connection, retrying refused connections until `connectTimeoutMs`. */
  async open(): Promise<void> {
    const deadlineMs = Date.now() + this.#options.connectTimeoutMs;
    for (;;) {
      try {
        await this.#attempt();
        return;
      } catch (error) {
        const herald = connectError(error, this.#options.url);
        this.#lastHealthError = healthError('connect', herald);
        if (
          herald instanceof ConfigurationError ||
          Date.now() + this.#delayMs() > deadlineMs ||
          this.#closed
        ) {
          throw herald;
        }
        this.#failures += 1;
        await new Promise((resolve) => setTimeout(resolve, this.#delayMs()));
      }
    }
  }

  /** Registers for up/down notifications; returns the function that unregisters. */
  listen(listener: ConnectionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current connection, if one is open. */
  get current(): Live | undefined {
    return this.#live;
  }

  /**
   * The live connection, waiting for a reconnection up to `connectTimeoutMs`. Rejects with
   * `ClosedError` after `close()` and with a retriable `TransportError` when the broker stays away.
   */
  async live(): Promise<Live> {
    if (this.#closed) throw new ClosedError('rabbitmq transport');
    if (this.#live !== undefined) return this.#live;
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#waiters.add(wake);
    const timer = setTimeout(wake, this.#options.connectTimeoutMs);
    try {
      await woken;
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(wake);
    }
    if (this.#closed) throw new ClosedError('rabbitmq transport');
    if (this.#live !== undefined) return this.#live;
    throw new TransportError(
      `RabbitMQ at ${describeEndpoint(this.#options.url)} has been unreachable for ` +
        `${this.#options.connectTimeoutMs} ms (last error: ${this.#lastError?.message ?? 'none'}); ` +
        'retry later, and check that the broker is running',
      { retriable: true, cause: this.#lastError },
    );
  }

  /** Connected while a connection is open; reconnecting (with the attempts so far) otherwise. */
  health(): TransportHealth {
    const lastError = this.#lastHealthError === undefined ? {} : { lastError: this.#lastHealthError };
    if (this.#closed) return { connected: false, detail: 'closed', ...lastError };
    if (this.#live !== undefined) {
      return {
        connected: true,
        detail: `generation ${this.#live.generation}, ${this.reconnects} reconnects`,
        ...lastError,
      };
    }
    return { connected: false, detail: `reconnecting (${this.#failures} failed attempts)`, ...lastError };
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const wake of this.#waiters) wake();
    await this.#connecting?.catch(() => {});
    const live = this.#live;
    this.#live = undefined;
    await live?.model.close().catch(() => {});
  }

  /** One connection attempt; on success the connection becomes the live one. */
  #attempt(): Promise<void> {
    const attempt = this.#connectOnce();
    this.#connecting = attempt;
    return attempt.finally(() => {
      if (this.#connecting === attempt) this.#connecting = undefined;
    });
  }

  async #connectOnce(): Promise<void> {
    const url = new URL(this.#options.url);
    if (!url.searchParams.has('heartbeat'))
      url.searchParams.set('heartbeat', String(this.#options.heartbeatSeconds));
    if (!url.searchParams.has('frameMax')) url.searchParams.set('frameMax', String(FRAME_BYTES_MAX));
    const model = await connect(url.toString(), {
      timeout: this.#options.connectTimeoutMs,
      // Nagle's algorithm holds small frames (a confirm, an ack) for up to ~40 ms; events are small.
      noDelay: true,
      clientProperties: { connection_name: this.#options.connectionName },
    });
    if (this.#closed) {
      await model.close().catch(() => {});
      return;
    }
    const live: Live = { model, generation: ++this.#generation };
    // Without an error listener a broker-side close would crash the process; 'close' follows.
    model.on('error', () => {});
    model.on('close', () => this.#lost(live));
    this.#live = live;
    this.#failures = 0;
    for (const wake of this.#waiters) wake();
    for (const listener of [...this.#listeners]) listener.up(live);
  }

  #lost(live: Live): void {
    if (this.#live !== live) return;
    this.#live = undefined;
    if (!this.#closed) {
      this.#lastHealthError = healthError('connection', `connection (generation ${live.generation}) lost`);
    }
    for (const listener of [...this.#listeners]) listener.down(live.generation);
    if (!this.#closed) this.#schedule();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#attempt().then(
        () => {
          this.reconnects += 1;
        },
        (error: unknown) => {
          this.#lastError = connectError(error, this.#options.url);
          this.#lastHealthError = healthError('reconnect', this.#lastError);
          this.#failures += 1;
          if (!this.#closed) this.#schedule();
        },
      );
    }, this.#delayMs());
  }

  /** Exponential backoff from the minimum to the maximum delay, minus up to 20% jitter. */
  #delayMs(): number {
    const { reconnectDelayMsMin: min, reconnectDelayMsMax: max } = this.#options;
    const exponential = Math.min(max, min * 2 ** Math.min(this.#failures, 20));
    return Math.round(exponential * (1 - 0.2 * Math.random()));
  }
}
