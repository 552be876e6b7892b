/**
 * Health reports: what `bus.health()` returns, what a transport may report about its connection
 * ({@link Transport.health}), and {@link ConnectionHealth}, the bookkeeping a transport adapter
 * uses to answer it from the failures and recoveries it already sees. Reading health never talks
 * to a broker: it says what the bus and transport last observed, so probes may call it often.
 */
import {
  ClosedError,
  ConfigurationError,
  DecodeError,
  PayloadTooLargeError,
  ValidationError,
} from './errors.ts';

/** An error remembered for a health report. */
export interface HealthError {
  /** The error's message. */
  readonly message: string;
  /** Milliseconds since the epoch when it happened. */
  readonly atMs: number;
  /** What failed, e.g. `publish`, `subscribe orders/billing`, `fetch`. */
  readonly source: string;
}

/** What a transport knows about its connection to the broker (see {@link Transport.health}). */
export interface TransportHealth {
  /**
   * True while the transport can reach its broker as far as it last saw: false when closed, while
   * reconnecting, or while some exchange with the broker keeps failing (a publish, a fetch, a
   * group join) and has not succeeded since.
   */
  readonly connected: boolean;
  /** The most recent broker failure, even if it has recovered since. */
  readonly lastError?: HealthError;
  /** One line for people, e.g. `reconnecting (attempt 3)` or `2 of 3 sources failing`. */
  readonly detail?: string;
}

/** Lifecycle of a bus. */
export type BusState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

/**
 * Lifecycle of one subscription (a topic and consumer group of the bus): `idle` until
 * `bus.start()`, `subscribing` while the transport registers it, `active` once messages flow,
 * `failed` when subscribing failed, `stopping`/`closed` during and after `bus.stop()`.
 */
export type SubscriptionState = 'idle' | 'subscribing' | 'active' | 'failed' | 'stopping' | 'closed';

/** One subscription in a {@link BusHealth}. */
export interface SubscriptionHealth {
  readonly topic: string;
  readonly group: string;
  readonly state: SubscriptionState;
  /** Messages being handled right now. */
  readonly inFlight: number;
  /** The subscription's most recent failure (subscribing, settling, dead-lettering). */
  readonly lastError?: HealthError;
}

/** What `bus.health()` returns. */
export interface BusHealth {
  readonly state: BusState;
  /** True once `start()` resolved, until `stop()` begins. */
  readonly started: boolean;
  /** Liveness: false only when the bus is stopped or its start failed — restarting may help. */
  readonly live: boolean;
  /**
   * Readiness: transport connected and every subscription active — so started, for a bus with
   * handlers; a publish-only bus (no handlers, never started) is ready while connected.
   */
  readonly ready: boolean;
  readonly transport: {
    readonly name: string;
    /**
     * True when the transport implements {@link Transport.health}; false when the bus judges the
     * connection only from its own publishes and subscribes (see {@link TransportHealth.connected}).
     */
    readonly reported: boolean;
  } & TransportHealth;
  readonly subscriptions: readonly SubscriptionHealth[];
  /** The most recent failure of the bus or its transport (a handler's own errors are not counted). */
  readonly lastError?: HealthError;
}

/** Most sources {@link ConnectionHealth} tracks as failing at once; more are counted, not named. */
export const FAILING_SOURCES_MAX = 1024;

/**
 * Connection bookkeeping for transport adapters: call {@link failed} when an exchange with the
 * broker fails and {@link recovered} when that source next succeeds; {@link report} is then the
 * transport's {@link Transport.health}. Sources are independent (the producer may work while a
 * group's fetches fail), so the connection counts as up only when none is failing.
 */
export class ConnectionHealth {
  readonly #failing = new Map<string, HealthError>();
  #lastError: HealthError | undefined;
  #overflow = 0;

  /** Records that `source` failed with `error` (until {@link recovered} is called for it). */
  failed(source: string, error: unknown): void {
    const entry = { message: messageOf(error), atMs: Date.now(), source };
    this.#lastError = entry;
    if (this.#failing.has(source) || this.#failing.size < FAILING_SOURCES_MAX) {
      this.#failing.set(source, entry);
    } else {
      this.#overflow += 1;
    }
  }

  /** Records that `source` succeeded. Cheap when it was not failing: call it on every success. */
  recovered(source: string): void {
    if (this.#failing.size === 0 && this.#overflow === 0) return;
    this.#failing.delete(source);
    // Overflowed sources were never named, so the first recovery forgets them too.
    this.#overflow = 0;
  }

  /** The report; `closed` transports are never connected. */
  report(closed = false): TransportHealth {
    const failing = this.#failing.size + this.#overflow;
    const connected = !closed && failing === 0;
    const detail = closed
      ? 'closed'
      : failing === 0
        ? undefined
        : `failing: ${[...this.#failing.keys()].slice(0, 5).join(', ')}${failing > 5 ? ` (+${failing - 5})` : ''}`;
    return {
      connected,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      ...(detail === undefined ? {} : { detail }),
    };
  }
}

/**
 * False for errors that say nothing about the broker connection (a payload too large, an invalid
 * message or configuration, a closed transport): those must not make a service unready.
 */
export function isConnectionFailure(error: unknown): boolean {
  return !(
    error instanceof PayloadTooLargeError ||
    error instanceof ValidationError ||
    error instanceof ConfigurationError ||
    error instanceof DecodeError ||
    error instanceof ClosedError
  );
}

/** A health error from anything thrown. */
export function healthError(source: string, error: unknown): HealthError {
  return { message: messageOf(error), atMs: Date.now(), source };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What {@link busHealth} needs from a bus. */
export interface BusHealthInput {
  readonly state: BusState;
  readonly startFailed: boolean;
  readonly transport: {
    readonly name: string;
    health?(): TransportHealth;
  };
  /** The bus's last publish failed (used when the transport has no `health()`). */
  readonly publishFailing: boolean;
  readonly subscriptions: readonly SubscriptionHealth[];
  readonly lastError: HealthError | undefined;
}

/** Assembles a bus's {@link BusHealth} and its live/ready verdicts. */
export function busHealth(input: BusHealthInput): BusHealth {
  const reported = typeof input.transport.health === 'function';
  const closed = input.state === 'stopped';
  const transport: TransportHealth = reported
    ? input.transport.health!()
    : {
        connected:
          !closed && !input.publishFailing && !input.subscriptions.some((item) => item.state === 'failed'),
        ...(closed ? { detail: 'closed' } : {}),
      };
  const lastError = latest(input.lastError, transport.lastError);
  const started = input.state === 'started' && !input.startFailed;
  const publishOnly = input.state === 'created' && input.subscriptions.length === 0;
  return {
    state: input.state,
    started,
    live: !closed && !input.startFailed,
    ready:
      (started || publishOnly) &&
      transport.connected &&
      input.subscriptions.every((subscription) => subscription.state === 'active'),
    transport: { name: input.transport.name, reported, ...transport },
    subscriptions: input.subscriptions,
    ...(lastError === undefined ? {} : { lastError }),
  };
}

function latest(a: HealthError | undefined, b: HealthError | undefined): HealthError | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.atMs > a.atMs ? b : a;
}

/**
 * What a bus remembers for its health report: the last failure, whether its last publish failed
 * (the connection verdict for transports without `health()`), whether its start failed.
 */
export class BusHealthRecorder {
  #lastError: HealthError | undefined;
  #publishFailing = false;
  #startFailed = false;

  /** Remembers `error` as the latest failure. */
  note(error: HealthError): void {
    this.#lastError = error;
  }

  /** `start()` failed with `error`. */
  startFailed(error: unknown): void {
    this.#startFailed = true;
    this.note(healthError('start', error));
  }

  /** A publish to `topic` failed; a connection failure marks the transport disconnected. */
  publishFailed(topic: string, error: unknown): void {
    if (isConnectionFailure(error)) this.#publishFailing = true;
    this.note(healthError(`publish ${topic}`, error));
  }

  /** A publish succeeded. */
  published(): void {
    this.#publishFailing = false;
  }

  /** The report of a bus in `state` on `transport` with these subscriptions. */
  report(
    state: BusState,
    transport: BusHealthInput['transport'],
    subscriptions: readonly SubscriptionHealth[],
  ): BusHealth {
    return busHealth({
      state,
      startFailed: this.#startFailed,
      transport,
      publishFailing: this.#publishFailing,
      subscriptions,
      lastError: this.#lastError,
    });
  }
}
