/**
 * Service announcements: every started bus publishes, on the reserved topic
 * {@link SERVICES_TOPIC}, a small CloudEvent saying which service it is, which contracts it
 * publishes or sends and which handlers (topic, group, types) it runs — on start, again every
 * `intervalMs`, soon after it first publishes a type it had not announced, and as `leaving` on
 * stop. Tools (the console's topology, `herald consume herald.services`) read that topic to draw
 * producers → topics → groups → services without any registry. It is an ordinary publish, so it
 * works on every transport; on those where a topic keeps no messages for groups that did not exist
 * yet (RabbitMQ, SNS/SQS), only subscribers present at the time see it.
 * Kept apart from bus.ts, which holds the bus's lifecycle.
 */
import { hostname } from 'node:os';
import type { Contract } from './contracts.ts';
import { type Envelope, encodeEnvelope, type TransportMessage } from './envelope.ts';
import { ConfigurationError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Transport } from './transport.ts';
import { uuidv7 } from './uuid.ts';

/** The reserved topic every bus announces itself on. */
export const SERVICES_TOPIC = 'herald.services';

/**
 * How long `herald.services` keeps announcements where the transport creates it with a retention
 * (the embedded broker, Kafka): a day. Readers need only the last few intervals.
 */
export const SERVICES_TOPIC_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Segment age of `herald.services` where the transport sets one, so retention can delete hourly. */
export const SERVICES_TOPIC_SEGMENT_MS = 60 * 60 * 1000;

/** CloudEvents `type` of an announcement. */
export const ANNOUNCEMENT_TYPE = 'herald.ServiceAnnouncement';

/** Version of the announcement's data (its CloudEvents `dataversion`); readers skip other versions. */
export const ANNOUNCEMENT_VERSION = 1;

/** Herald's version, as announced (kept equal to `@herald/bus`'s package.json by a test). */
export const HERALD_VERSION = '0.1.0';

/** Default time between two announcements of a started bus: 30 s. */
export const ANNOUNCE_INTERVAL_MS_DEFAULT = 30_000;
/** Shortest accepted announcement interval (tests use it; a real bus needs no more than every 30 s). */
export const ANNOUNCE_INTERVAL_MS_MIN = 100;
/** Longest accepted announcement interval: 1 hour. */
export const ANNOUNCE_INTERVAL_MS_MAX = 60 * 60 * 1000;
/**
 * Delay between the first publish of a type the bus had not announced and the announcement that
 * adds it: new types of one burst go out together, and a bus announces at most once per this.
 */
export const ANNOUNCE_CHANGE_DELAY_MS = 1000;
/** Longest `start()` waits for the first announcement, and `stop()` for the `leaving` one. */
export const ANNOUNCE_TIMEOUT_MS = 2000;
/**
 * Most published contracts and handler entries one announcement lists each (more are dropped and
 * `truncated` is set), so an announcement stays far below every transport's message size.
 */
export const ANNOUNCED_ITEMS_MAX = 500;

/** Options of a bus's announcements: `createBus({ announce })`. */
export interface AnnounceOptions {
  /** The service's name (default: the last path segment of the bus's `source`, `/shop/order` → `order`). */
  readonly service?: string;
  /**
   * Contracts the service publishes or sends, announced from the start (the bus adds every type
   * it publishes as it goes, so this matters for types published rarely or through an outbox
   * relayed by another bus).
   */
  readonly sends?: readonly Contract[];
  /** Time between announcements, {@link ANNOUNCE_INTERVAL_MS_MIN}…{@link ANNOUNCE_INTERVAL_MS_MAX} (default 30 s). */
  readonly intervalMs?: number;
}

/** A contract a service publishes or sends. */
export interface AnnouncedContract {
  readonly type: string;
  readonly topic: string;
  readonly kind: Contract['kind'];
}

/** A subscription of a service: a topic (or topic pattern), its consumer group and the types it handles. */
export interface AnnouncedHandler {
  readonly topic: string;
  readonly group: string;
  readonly types: readonly string[];
}

/** The data of an announcement (CloudEvents `type` {@link ANNOUNCEMENT_TYPE}). */
export interface ServiceAnnouncement {
  readonly service: string;
  /** One per bus: a process with two buses of one service announces two instances. */
  readonly instanceId: string;
  /** The bus's CloudEvents source. */
  readonly source: string;
  /** `up` while the bus runs; `leaving` once it stops (readers drop the instance). */
  readonly state: 'up' | 'leaving';
  /** The transport's name (`embedded`, `kafka`, …). */
  readonly transport: string;
  readonly heraldVersion: string;
  readonly host: string;
  readonly pid: number;
  /** The next announcement comes within this; readers treat an instance silent for 3× it as gone. */
  readonly intervalMs: number;
  readonly publishes: readonly AnnouncedContract[];
  readonly handlers: readonly AnnouncedHandler[];
  /** True when a list was cut at {@link ANNOUNCED_ITEMS_MAX}. */
  readonly truncated: boolean;
}

/** The service of a CloudEvents source: its last path segment (`/checkout/order` → `order`). */
export function serviceOfSource(source: string): string {
  return source.split('/').filter(Boolean).at(-1) ?? source;
}

/** What an {@link Announcer} needs of its bus. */
export interface AnnouncerHost {
  readonly transport: Transport;
  readonly source: string;
  readonly logger: Logger;
  readonly instanceId: string;
}

/** Checks `options.announce` and returns the interval in ms; throws on a bad interval. */
function intervalOf(options: AnnounceOptions): number {
  const intervalMs = options.intervalMs ?? ANNOUNCE_INTERVAL_MS_DEFAULT;
  if (
    !Number.isFinite(intervalMs) ||
    intervalMs < ANNOUNCE_INTERVAL_MS_MIN ||
    intervalMs > ANNOUNCE_INTERVAL_MS_MAX
  ) {
    throw new ConfigurationError(
      `createBus: announce.intervalMs must be from ${ANNOUNCE_INTERVAL_MS_MIN} to ${ANNOUNCE_INTERVAL_MS_MAX} ms, got ${intervalMs}`,
    );
  }
  return intervalMs;
}

/** Resolves `promise`, or `undefined` after `timeoutMs` (the promise goes on in the background). */
async function within(promise: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}

/**
 * One bus's announcements. At most one announcement is in flight at a time (a tick that finds one
 * still going is skipped); failures are logged as warnings and never fail the bus.
 */
export class Announcer {
  readonly #host: AnnouncerHost;
  readonly #service: string;
  readonly #intervalMs: number;
  readonly #publishes = new Map<string, AnnouncedContract>();
  readonly #handlers = new Map<string, { topic: string; group: string; types: string[] }>();
  #timer: NodeJS.Timeout | undefined;
  #changeTimer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #started = false;
  #stopped = false;

  constructor(host: AnnouncerHost, options: AnnounceOptions) {
    this.#host = host;
    this.#service = options.service ?? serviceOfSource(host.source);
    this.#intervalMs = intervalOf(options);
    for (const contract of options.sends ?? []) this.#addPublished(contract);
  }

  /** Notes a handler (called as the bus registers it). */
  handler(topic: string, group: string, type: string): void {
    const key = `${topic}\u0000${group}`;
    const entry = this.#handlers.get(key) ?? { topic, group, types: [] };
    entry.types.push(type);
    this.#handlers.set(key, entry);
  }

  /** Notes a publish; a type not yet announced is announced within {@link ANNOUNCE_CHANGE_DELAY_MS}. */
  published(contract: Contract): void {
    if (this.#publishes.has(contract.type) || !this.#addPublished(contract)) return;
    if (!this.#started || this.#stopped || this.#changeTimer !== undefined) return;
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = undefined;
      this.#announce('up');
    }, ANNOUNCE_CHANGE_DELAY_MS);
    this.#changeTimer.unref();
  }

  /** Announces `up` (waiting at most {@link ANNOUNCE_TIMEOUT_MS}), then every interval until {@link stop}. */
  async start(): Promise<void> {
    this.#started = true;
    this.#timer = setInterval(() => this.#announce('up'), this.#intervalMs);
    this.#timer.unref();
    await within(this.#announce('up'), ANNOUNCE_TIMEOUT_MS);
  }

  /**
   * Stops the timers and announces `leaving` (when it announced `up` and no announcement is still
   * unanswered), waiting at most `timeoutMs` (capped at {@link ANNOUNCE_TIMEOUT_MS}). Idempotent.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#changeTimer);
    // An announcement still unanswered means the broker is slow or gone: a `leaving` behind it
    // would only hold the transport's close on the broker (readers mark a silent instance anyway).
    if (!this.#started || this.#inFlight !== undefined) return;
    const leaving = this.#publish('leaving');
    await within(leaving, Math.min(Math.max(0, timeoutMs), ANNOUNCE_TIMEOUT_MS));
  }

  /** The announcement this bus would publish now. */
  announcement(state: ServiceAnnouncement['state']): ServiceAnnouncement {
    const publishes = [...this.#publishes.values()];
    const handlers = [...this.#handlers.values()].map((entry) => ({ ...entry, types: [...entry.types] }));
    return {
      service: this.#service,
      instanceId: this.#host.instanceId,
      source: this.#host.source,
      state,
      transport: this.#host.transport.name,
      heraldVersion: HERALD_VERSION,
      host: hostname(),
      pid: process.pid,
      intervalMs: this.#intervalMs,
      publishes,
      handlers: handlers.slice(0, ANNOUNCED_ITEMS_MAX),
      truncated: publishes.length >= ANNOUNCED_ITEMS_MAX || handlers.length > ANNOUNCED_ITEMS_MAX,
    };
  }

  #addPublished(contract: Contract): boolean {
    if (this.#publishes.size >= ANNOUNCED_ITEMS_MAX) return false;
    this.#publishes.set(contract.type, { type: contract.type, topic: contract.topic, kind: contract.kind });
    return true;
  }

  #announce(state: 'up'): Promise<void> {
    if (this.#inFlight !== undefined || this.#stopped) return this.#inFlight ?? Promise.resolve();
    this.#inFlight = this.#publish(state).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #publish(state: ServiceAnnouncement['state']): Promise<void> {
    try {
      await this.#host.transport.publish(SERVICES_TOPIC, [announcementMessage(this.announcement(state))]);
    } catch (error) {
      this.#host.logger.warn(
        { topic: SERVICES_TOPIC, state, error: String(error) },
        'could not announce this bus (consoles will not show it); pass createBus({ announce: false }) to stop announcing',
      );
    }
  }
}

/** The transport message of `announcement`: a CloudEvent keyed by its instance. */
export function announcementMessage(announcement: ServiceAnnouncement): TransportMessage {
  const id = uuidv7();
  const envelope: Envelope = {
    specversion: '1.0',
    id,
    source: announcement.source,
    type: ANNOUNCEMENT_TYPE,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    subject: announcement.service,
    partitionkey: `${announcement.service}/${announcement.instanceId}`,
    correlationid: id,
    dataversion: ANNOUNCEMENT_VERSION,
    extensions: {},
    data: announcement,
  };
  return encodeEnvelope(envelope);
}

/**
 * The announcement in an envelope read from {@link SERVICES_TOPIC}, or `undefined` when it is
 * something else (another type, another data version, no service or instance). Malformed list
 * entries are dropped and a missing interval is the default, so a reader never trips on a
 * producer's bug.
 */
export function announcementOf(envelope: Envelope): ServiceAnnouncement | undefined {
  if (envelope.type !== ANNOUNCEMENT_TYPE || envelope.dataversion !== ANNOUNCEMENT_VERSION) return undefined;
  const data = envelope.data as Record<string, unknown> | null;
  if (
    data === null ||
    typeof data !== 'object' ||
    typeof data.service !== 'string' ||
    typeof data.instanceId !== 'string' ||
    (data.state !== 'up' && data.state !== 'leaving')
  ) {
    return undefined;
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const isObject = (entry: unknown): entry is Record<string, unknown> =>
    typeof entry === 'object' && entry !== null;
  return {
    service: data.service,
    instanceId: data.instanceId,
    source: text(data.source),
    state: data.state,
    transport: text(data.transport),
    heraldVersion: text(data.heraldVersion),
    host: text(data.host),
    pid: typeof data.pid === 'number' ? data.pid : 0,
    intervalMs:
      typeof data.intervalMs === 'number' && data.intervalMs > 0
        ? data.intervalMs
        : ANNOUNCE_INTERVAL_MS_DEFAULT,
    publishes: list(data.publishes)
      .filter(isObject)
      .filter((entry) => typeof entry.type === 'string' && typeof entry.topic === 'string')
      .map((entry) => ({
        type: entry.type as string,
        topic: entry.topic as string,
        kind: (entry.kind === 'command' || entry.kind === 'query' ? entry.kind : 'event') as Contract['kind'],
      })),
    handlers: list(data.handlers)
      .filter(isObject)
      .filter((entry) => typeof entry.topic === 'string' && typeof entry.group === 'string')
      .map((entry) => ({
        topic: entry.topic as string,
        group: entry.group as string,
        types: list(entry.types).filter((type): type is string => typeof type === 'string'),
      })),
    truncated: data.truncated === true,
  };
}
