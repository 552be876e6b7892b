/**
 * The bus's side of scheduled messages: which scheduler a scheduled publish goes to (the
 * transport's own, or the transport's shared `TopicScheduler` over a schedule topic), the
 * delivery time a publish asks for, cancellation, and holding the topic scheduler (one per
 * transport object, see shared-scheduler.ts) while the bus is started. Kept apart from bus.ts,
 * which holds the bus's lifecycle.
 */
import { ConfigurationError, ScheduleError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { CancelOutcome, Transport, TransportScheduler } from '../transport.ts';
import { deliverAtMs, type ScheduleRequest } from './deliver-at.ts';
import { SharedTopicScheduler } from './shared-scheduler.ts';

/** Where a publish goes: now, or to a scheduler for `atMs`. */
export type PublishTiming =
  | { readonly scheduler: undefined; readonly atMs: undefined }
  | { readonly scheduler: TransportScheduler; readonly atMs: number };

/** The timing of a publish that is not scheduled: one object for all (it is only read). */
const PUBLISH_NOW: PublishTiming = Object.freeze({ scheduler: undefined, atMs: undefined });

/** Scheduling for one bus. */
export class BusScheduling {
  readonly #transport: Transport;
  readonly #logger: Logger;
  readonly #runScheduler: boolean;
  #shared: SharedTopicScheduler | undefined;
  /** Whether this bus holds its transport's topic scheduler (between start and stop). */
  #holding = false;

  constructor(transport: Transport, logger: Logger, runScheduler: boolean) {
    this.#transport = transport;
    this.#logger = logger;
    this.#runScheduler = runScheduler;
  }

  /**
   * What `request` asks of a publish: now (no time, or a time already past) or a scheduler and a
   * time. Throws `ScheduleError` for a bad time or a transport that cannot schedule.
   */
  timing(request: ScheduleRequest, method: string): PublishTiming {
    // Most publishes ask for no time: answered before the clock read, the transport's features
    // (a lookup through its prototype for some transports) and a result object (measured: 0.1–0.2
    // µs of CPU a publish in the profile of the bus over a no-op transport).
    if (request.deliverAt === undefined && request.delayMs === undefined) return PUBLISH_NOW;
    const scheduling = this.#transport.features.scheduling;
    const nowMs = Date.now();
    const horizonMs =
      scheduling === undefined || scheduling.mode === 'unsupported'
        ? Number.POSITIVE_INFINITY
        : scheduling.horizonMsMax;
    const atMs = deliverAtMs(request, nowMs, horizonMs);
    if (atMs === undefined) return PUBLISH_NOW;
    // Refused even for a past time, so an unsupported transport fails the same way every time.
    const scheduler = this.scheduler(method);
    return atMs > nowMs ? { scheduler, atMs } : PUBLISH_NOW;
  }

  /** Throws `ConfigurationError` when a query's `request` asks to be scheduled: its caller waits for the reply. */
  static refuseScheduledQuery(request: ScheduleRequest, type: string): void {
    if (request.deliverAt !== undefined || request.delayMs !== undefined) {
      throw new ConfigurationError(
        `request(${type}): a query cannot be scheduled (its caller waits for the reply); send a command instead`,
      );
    }
  }

  /** Cancels the scheduled message `id`; see `Bus.cancelScheduled`. */
  cancel(id: string): Promise<CancelOutcome> {
    if (typeof id !== 'string' || id === '') {
      throw new ScheduleError(
        'SCHEDULE_INVALID_TIME',
        'cancelScheduled: pass the id of the envelope a scheduled publish or send resolved with',
      );
    }
    return this.scheduler('cancelScheduled').cancel(id);
  }

  /**
   * Holds the transport's topic scheduler, where it keeps scheduled messages in a schedule topic
   * and the bus runs it: the first bus of the transport to start joins the schedulers' group.
   */
  async start(): Promise<void> {
    if (!this.#runScheduler || this.#transport.features.scheduling?.mode !== 'schedule-topic') return;
    await this.#sharedScheduler().hold();
    this.#holding = true;
  }

  /** Releases the scheduler: the last bus of the transport leaves the group (another member takes over). */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.#holding) return;
    this.#holding = false;
    await this.#sharedScheduler()
      .release(timeoutMs)
      .catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing the scheduler failed'));
  }

  #sharedScheduler(): SharedTopicScheduler {
    this.#shared ??= SharedTopicScheduler.of(this.#transport, this.#logger);
    return this.#shared;
  }

  /** The transport's scheduler, or a `ScheduleError` saying why there is none. */
  scheduler(method: string): TransportScheduler {
    const scheduling = this.#transport.features.scheduling;
    if (scheduling?.mode === 'native' && this.#transport.scheduler !== undefined) {
      return this.#transport.scheduler;
    }
    if (scheduling?.mode === 'schedule-topic') return this.#sharedScheduler().scheduler;
    const why =
      scheduling?.mode === 'unsupported' ? scheduling.reason : 'it declares no scheduling in its features';
    throw new ScheduleError(
      'SCHEDULE_UNSUPPORTED',
      `${method}: the ${this.#transport.name} transport keeps no scheduled messages (${why}); ` +
        'use a transport whose features.scheduling is supported, e.g. the embedded broker',
    );
  }
}
