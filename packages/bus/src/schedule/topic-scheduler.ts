/**
 * Scheduled messages kept on the transport itself, for brokers with no delayed delivery of their
 * own (Kafka, RabbitMQ without a plugin): `schedule` publishes an *entry* (the message plus its
 * target topic and time, in `herald_schedule_*` headers) to the topic {@link SCHEDULE_TOPIC}; each
 * transport object runs one scheduler while a bus on it is started (shared-scheduler.ts), a member
 * of group {@link SCHEDULER_GROUP} on that topic, which
 * holds each entry unsettled until it is due, then publishes the message to its topic and acks
 * the entry. Nothing is lost to a crash: an entry is acked only after its message was published,
 * so a crash redelivers it (to any member) and the message may be published twice, with the same
 * CloudEvents id, which the consumers' idempotency drops.
 *
 * How an entry waits depends on what the transport honours (`features.scheduling`):
 * - a nack delay up to `nackHoldMsMax` is held exactly in the process (Kafka parks the record,
 *   RabbitMQ holds it below its retry queues);
 * - longer waits use the transport's `nackDelayStepsMs` where it has them (RabbitMQ's retry
 *   queues, TTL plus dead-lettering: each queue has one delay, so its FIFO order is due order),
 *   always the largest step that does not overshoot;
 * - without steps (Kafka), an entry held once for `nackHoldMsMax` and still not due is published
 *   again to the schedule topic and acked, so the group's committed position moves on instead of
 *   staying behind the oldest waiting entry (which would replay everything after it on a restart).
 *
 * Cancelling publishes a cancel record (`herald_schedule_cancel`) to the same topic. The
 * scheduler that receives it remembers the id and keeps the record waiting like an entry (until
 * the entry was dropped, or the horizon passed), so it survives a restart too; one for a message
 * this scheduler already published (it remembers the last 100,000 ids) is dropped when read. Entries and
 * cancel records are keyless so that one waiting entry never blocks another; the price is that a
 * cancel reaches the entry only when both are read by the same scheduler (see the transports'
 * READMEs for what that means with several processes).
 */
import type { TransportMessage } from '../envelope.ts';
import type { Logger } from '../logger.ts';
import {
  type CancelOutcome,
  type ReceivedMessage,
  replaysToNewGroup,
  type Subscription,
  type Transport,
  type TransportScheduler,
} from '../transport.ts';

/** The topic that holds scheduled entries and cancel records. */
export const SCHEDULE_TOPIC = 'herald.schedule';
/** The consumer group of the schedulers. */
export const SCHEDULER_GROUP = 'herald.scheduler';
/** Entries a scheduler holds at once (its subscription's `inFlightMax`). */
export const SCHEDULER_IN_FLIGHT_MAX = 4096;
/** Cancelled ids a scheduler remembers at once; more cancel records wait their turn. */
export const SCHEDULER_CANCELS_MAX = 100_000;
/**
 * Ids a scheduler remembers having published (the oldest forgotten first), so a cancellation that
 * came too late is dropped when read instead of waiting out the horizon.
 */
export const SCHEDULER_PUBLISHED_IDS_MAX = 100_000;

const TOPIC_HEADER = 'herald_schedule_topic';
const AT_HEADER = 'herald_schedule_at';
const KEY_HEADER = 'herald_schedule_key';
const CANCEL_HEADER = 'herald_schedule_cancel';

/** How entries wait on this transport (from its `features.scheduling`). */
export interface TopicSchedulingRules {
  readonly horizonMsMax: number;
  readonly nackHoldMsMax: number;
  readonly nackDelayStepsMs?: readonly number[];
}

/** The {@link TransportScheduler} of a transport with a schedule topic. */
export class TopicScheduler implements TransportScheduler {
  readonly #transport: Transport;
  readonly #logger: Logger;
  /** Cancelled ids this scheduler read: `true` once their entry was dropped. */
  readonly #cancelled = new Map<string, boolean>();
  /** Ids this scheduler published, in publish order (at most {@link SCHEDULER_PUBLISHED_IDS_MAX}). */
  readonly #published = new Set<string>();
  #subscription: Subscription | undefined;
  /** Set once the scheduler group is known to exist on the broker (see {@link #ensureGroup}). */
  #groupReady: Promise<void> | undefined;

  constructor(transport: Transport, logger: Logger) {
    this.#transport = transport;
    this.#logger = logger;
  }

  /** Read at each use: a transport opened lazily replaces its declared features with its own. */
  get #rules(): TopicSchedulingRules {
    const scheduling = this.#transport.features.scheduling;
    if (scheduling?.mode !== 'schedule-topic') {
      throw new Error(`TopicScheduler on a transport whose scheduling mode is ${scheduling?.mode}`);
    }
    return scheduling;
  }

  async schedule(topic: string, message: TransportMessage, deliverAtMs: number): Promise<void> {
    const headers: Record<string, string> = {
      ...message.headers,
      [TOPIC_HEADER]: topic,
      [AT_HEADER]: String(deliverAtMs),
    };
    if (message.key !== undefined) headers[KEY_HEADER] = message.key;
    await this.#ensureGroup();
    await this.#transport.publish(SCHEDULE_TOPIC, [{ key: undefined, headers, body: message.body }]);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const expiresAtMs = Date.now() + this.#rules.horizonMsMax;
    await this.#ensureGroup();
    await this.#transport.publish(SCHEDULE_TOPIC, [
      {
        key: undefined,
        headers: { [CANCEL_HEADER]: id, [AT_HEADER]: String(expiresAtMs) },
        body: new Uint8Array(),
      },
    ]);
    return 'requested';
  }

  /** Joins the scheduler group: from now on this process publishes due entries. */
  async start(): Promise<void> {
    this.#subscription = await this.#transport.subscribe(
      { topic: SCHEDULE_TOPIC, group: SCHEDULER_GROUP, inFlightMax: SCHEDULER_IN_FLIGHT_MAX },
      (message) => this.#receive(message),
    );
    this.#groupReady = Promise.resolve();
  }

  /**
   * On a transport where a group receives only what is published after it first subscribed
   * (RabbitMQ: its queues are declared then), an entry published before any scheduler ever ran
   * would reach no one. So a bus that schedules without running the scheduler subscribes the
   * group once (declaring it) and leaves at once; the entries then wait for a scheduler.
   */
  #ensureGroup(): Promise<void> {
    if (replaysToNewGroup(this.#transport.features, SCHEDULE_TOPIC)) return Promise.resolve();
    this.#groupReady ??= (async () => {
      const declared = await this.#transport.subscribe(
        { topic: SCHEDULE_TOPIC, group: SCHEDULER_GROUP, inFlightMax: 1 },
        // Not this bus's to handle: returned at once, to the group's next scheduler.
        (message) => message.nack(),
      );
      await declared.close();
    })();
    this.#groupReady.catch(() => {
      this.#groupReady = undefined;
    });
    return this.#groupReady;
  }

  /** Leaves the group; the entries it held go to another scheduler (or wait for the next start). */
  async stop(timeoutMs?: number): Promise<void> {
    await this.#subscription?.close(timeoutMs === undefined ? undefined : { timeoutMs });
    this.#subscription = undefined;
  }

  async #receive(message: ReceivedMessage): Promise<void> {
    const atMs = Number(message.headers[AT_HEADER]);
    const cancelId = message.headers[CANCEL_HEADER];
    if (!Number.isFinite(atMs)) {
      this.#logger.warn({ offset: message.offset }, `dropping a malformed entry of ${SCHEDULE_TOPIC}`);
      await message.ack();
      return;
    }
    if (cancelId !== undefined) return this.#receiveCancel(message, cancelId, atMs);
    const id = message.headers.ce_id ?? '';
    if (this.#cancelled.has(id)) {
      this.#cancelled.set(id, true);
      await message.ack();
      return;
    }
    if (atMs > Date.now()) return this.#wait(message, atMs);
    const headers = { ...message.headers };
    const topic = headers[TOPIC_HEADER]!;
    const key = headers[KEY_HEADER];
    delete headers[TOPIC_HEADER];
    delete headers[AT_HEADER];
    delete headers[KEY_HEADER];
    // Published before the ack: a crash in between publishes it again (same id), never loses it.
    await this.#transport.publish(topic, [{ key, headers, body: message.body }]);
    this.#published.add(id);
    if (this.#published.size > SCHEDULER_PUBLISHED_IDS_MAX) {
      this.#published.delete(this.#published.values().next().value!);
    }
    await message.ack();
  }

  async #receiveCancel(message: ReceivedMessage, id: string, expiresAtMs: number): Promise<void> {
    const dropped = this.#cancelled.get(id);
    if (dropped === true || expiresAtMs <= Date.now() || this.#published.has(id)) {
      this.#cancelled.delete(id);
      await message.ack();
      return;
    }
    if (dropped === undefined && this.#cancelled.size >= SCHEDULER_CANCELS_MAX) {
      await message.nack({ delayMs: Math.min(1000, this.#rules.nackHoldMsMax) });
      return;
    }
    this.#cancelled.set(id, false);
    await this.#wait(message, expiresAtMs);
  }

  /** Returns `message` to the transport to come back nearer `atMs` (see the module comment). */
  async #wait(message: ReceivedMessage, atMs: number): Promise<void> {
    const remainingMs = atMs - Date.now();
    const { nackHoldMsMax, nackDelayStepsMs } = this.#rules;
    if (remainingMs <= nackHoldMsMax) {
      await message.nack({ delayMs: Math.max(1, remainingMs) });
      return;
    }
    if (nackDelayStepsMs !== undefined && nackDelayStepsMs.length > 0) {
      const step = nackDelayStepsMs.findLast((stepMs) => stepMs <= remainingMs) ?? nackHoldMsMax;
      await message.nack({ delayMs: step });
      return;
    }
    if (message.deliveryAttempt <= 1) {
      await message.nack({ delayMs: nackHoldMsMax });
      return;
    }
    // Held once already: move it to the end of the topic so the committed position can pass it.
    await this.#transport.publish(SCHEDULE_TOPIC, [
      { key: undefined, headers: message.headers, body: message.body },
    ]);
    await message.ack();
  }
}
