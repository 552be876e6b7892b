/**
 * The topology: producers → topics → consumer groups → services, drawn from the buses'
 * announcements on `herald.services` (service, contracts, handlers), the CloudEvents sources of
 * each topic's newest records (producers that do not announce), and the groups' positions and lag
 * (the reads module's, as `herald groups` reads them). Rates come from offsets sampled at each
 * request over a sliding window ({@link RateWindow}), so a page that polls sees live rates.
 */
import {
  announcementOf,
  decodeEnvelope,
  SERVICES_TOPIC,
  type ServiceAnnouncement,
  serviceOfSource,
} from '@herald/bus';
import { type ConsumedRecord, headerMap, readTopic, type Target } from '@herald/cli/internal';
import type {
  TopologyEdgeView,
  TopologyGroupView,
  TopologyServiceView,
  TopologyTopicView,
  TopologyView,
} from './api-types.ts';
import { listGroupViews } from './reads.ts';

/** Records per partition the topology samples from each topic's end to learn its producers. */
const TOPOLOGY_SAMPLE_RECORDS = 50;
/**
 * Topics whose newest records one topology request samples. Beyond it a topic shows its size and
 * rate (one describe, no read) and its producers only from the announcements: 200 topics × 4
 * partitions × 50 records bounds a request to 40,000 records, under a second on the console's
 * data-directory reads. Topics no announcement declares a producer for are sampled first, since
 * the sample is the only way to learn those producers.
 */
export const TOPOLOGY_SAMPLED_TOPICS_MAX = 200;
/**
 * Announcements read per partition of `herald.services`, from its end: every live bus announces
 * every 30 s, so this covers a minute of 1,000 buses, and an hour of the checkout's 14.
 */
export const ANNOUNCEMENTS_READ_MAX = 2000;
/** An instance silent for this many of its intervals counts as gone (crashed without `leaving`). */
const SILENT_INTERVALS = 3;
/** Rates are measured over this window of samples, in ms. */
export const RATE_WINDOW_MS = 10_000;
/** Samples kept per series: enough for a page polling every second across the window. */
const RATE_SAMPLES_MAX = 32;
/** Series (topics and group positions) one rate window tracks; the oldest is dropped beyond it. */
const RATE_SERIES_MAX = 10_000;

/** Topics left out of the picture: the announcements themselves and each bus's private reply topic. */
function isInternalTopic(name: string): boolean {
  return name.startsWith('__') || name === SERVICES_TOPIC || name.startsWith('herald.replies.');
}

/**
 * Offsets sampled over time, per series (a topic's end, a group's committed position): the rate is
 * the growth between the oldest sample inside {@link RATE_WINDOW_MS} and the newest. Bounded:
 * {@link RATE_SAMPLES_MAX} samples per series, {@link RATE_SERIES_MAX} series.
 */
export class RateWindow {
  readonly #series = new Map<string, { atMs: number; value: bigint }[]>();

  /** Adds a sample of `key` and returns its rate per second, or null before a second sample. */
  sample(key: string, value: bigint, atMs: number): number | null {
    let samples = this.#series.get(key);
    if (samples === undefined) {
      if (this.#series.size >= RATE_SERIES_MAX) this.#series.delete(this.#series.keys().next().value!);
      samples = [];
      this.#series.set(key, samples);
    }
    samples.push({ atMs, value });
    // Samples older than the window drop out, but two stay: a page polling less often than the
    // window still gets a rate (over the longer span).
    while (
      samples.length > 2 &&
      (samples[0]!.atMs < atMs - RATE_WINDOW_MS || samples.length > RATE_SAMPLES_MAX)
    ) {
      samples.shift();
    }
    const oldest = samples[0]!;
    const elapsedMs = atMs - oldest.atMs;
    if (samples.length < 2 || elapsedMs <= 0) return null;
    const grown = value - oldest.value;
    return grown < 0n ? 0 : (Number(grown) * 1000) / elapsedMs;
  }
}

/** One rate window per target: the console's requests share it, so every page sees the same rates. */
const windows = new WeakMap<Target, RateWindow>();

function rateWindowOf(target: Target): RateWindow {
  let window = windows.get(target);
  if (window === undefined) {
    window = new RateWindow();
    windows.set(target, window);
  }
  return window;
}

/** The newest announcement of each instance on `herald.services`, from the last {@link ANNOUNCEMENTS_READ_MAX} per partition. */
async function readAnnouncements(
  target: Target,
  signal: AbortSignal,
): Promise<Map<string, { announcement: ServiceAnnouncement; atMs: number }>> {
  const latest = new Map<string, { announcement: ServiceAnnouncement; atMs: number }>();
  if (!(await target.listTopics()).includes(SERVICES_TOPIC)) return latest;
  await readTail(target, SERVICES_TOPIC, ANNOUNCEMENTS_READ_MAX, signal, (record) => {
    const announcement = announcementOfRecord(record);
    const known = latest.get(announcement?.instanceId ?? '');
    if (announcement !== undefined && (known === undefined || known.atMs <= record.timestampMs)) {
      latest.set(announcement.instanceId, { announcement, atMs: record.timestampMs });
    }
  });
  return latest;
}

function announcementOfRecord(record: ConsumedRecord): ServiceAnnouncement | undefined {
  try {
    const headers = headerMap(record);
    const envelope = decodeEnvelope({ headers, body: record.value ?? new Uint8Array(0) });
    return announcementOf(envelope);
  } catch {
    return undefined;
  }
}

/**
 * The topics whose newest records are sampled: at most {@link TOPOLOGY_SAMPLED_TOPICS_MAX}, those
 * no announcement declares a producer for first, each part in name order.
 */
function topicsToSample(
  topicNames: readonly string[],
  announcements: Map<string, { announcement: ServiceAnnouncement }>,
): Set<string> {
  const declared = new Set<string>();
  for (const { announcement } of announcements.values()) {
    for (const entry of announcement.publishes) declared.add(entry.topic);
  }
  const undeclaredFirst = [
    ...topicNames.filter((name) => !declared.has(name)),
    ...topicNames.filter((name) => declared.has(name)),
  ];
  return new Set(undeclaredFirst.slice(0, TOPOLOGY_SAMPLED_TOPICS_MAX));
}

/** Reads the last `count` records of every partition of `topic` (none when `count` is 0: the sizes only). */
async function readTail(
  target: Target,
  topic: string,
  count: number,
  signal: AbortSignal,
  onRecord: (record: ConsumedRecord) => void,
): Promise<{ partitions: number; messages: bigint; end: bigint }> {
  const info = await target.describeTopic(topic);
  const start = new Map(
    info.partitions.map((p) => {
      const from = p.highWatermark - BigInt(count);
      return [p.partition, from < p.logStartOffset ? p.logStartOffset : from];
    }),
  );
  const stopAt = new Map(info.partitions.map((p) => [p.partition, p.highWatermark]));
  if (count > 0) {
    await readTopic({
      target,
      topic,
      start,
      stopAt,
      follow: false,
      signal,
      onRecord: (record) => {
        onRecord(record);
        return true;
      },
    });
  }
  return {
    partitions: info.partitions.length,
    messages: info.partitions.reduce((sum, p) => sum + (p.highWatermark - p.logStartOffset), 0n),
    end: info.partitions.reduce((sum, p) => sum + p.highWatermark, 0n),
  };
}

/** Builds the services from the live announcements (and the sources seen producing). */
function servicesOf(
  announcements: Map<string, { announcement: ServiceAnnouncement; atMs: number }>,
  producers: Iterable<string>,
  nowMs: number,
): Map<string, TopologyServiceView> {
  const services = new Map<string, TopologyServiceView>();
  const mutable = (name: string) => {
    let service = services.get(name);
    if (service === undefined) {
      service = {
        name,
        announced: false,
        instances: 0,
        silentInstances: 0,
        stoppedInstances: 0,
        transports: [],
        heraldVersions: [],
        publishes: [],
        handlers: [],
        lastSeenMs: null,
      };
      services.set(name, service);
    }
    return service as { -readonly [K in keyof TopologyServiceView]: TopologyServiceView[K] };
  };
  for (const { announcement, atMs } of announcements.values()) {
    // A stopped instance still tells what the service publishes and handles: the picture of a
    // system that is down keeps its consumers, marked as stopped.
    const service = mutable(announcement.service);
    service.announced = true;
    if (announcement.state === 'leaving') service.stoppedInstances++;
    else if (nowMs - atMs > SILENT_INTERVALS * announcement.intervalMs) service.silentInstances++;
    else service.instances++;
    service.lastSeenMs = Math.max(service.lastSeenMs ?? 0, atMs);
    service.transports = union(service.transports, [announcement.transport]);
    service.heraldVersions = union(service.heraldVersions, [announcement.heraldVersion]);
    const publishes = new Map(service.publishes.map((entry) => [entry.type, entry]));
    for (const entry of announcement.publishes) publishes.set(entry.type, entry);
    service.publishes = [...publishes.values()].sort((a, b) => a.type.localeCompare(b.type));
    const handlers = new Map(service.handlers.map((entry) => [`${entry.topic}\u0000${entry.group}`, entry]));
    for (const entry of announcement.handlers) {
      const key = `${entry.topic}\u0000${entry.group}`;
      handlers.set(key, { ...entry, types: union(handlers.get(key)?.types ?? [], entry.types) });
    }
    service.handlers = [...handlers.values()].sort((a, b) => a.group.localeCompare(b.group));
  }
  for (const name of producers) mutable(name);
  return services;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/**
 * Producers → topics → groups → services with rates and lag. `signal` aborts the reads when the
 * page goes away.
 */
export async function topology(target: Target, signal: AbortSignal): Promise<TopologyView> {
  const rates = rateWindowOf(target);
  const nowMs = Date.now();
  const announcements = await readAnnouncements(target, signal);
  const topicNames = (await target.listTopics()).filter((name) => !isInternalTopic(name)).sort();
  const topics: TopologyTopicView[] = [];
  const edges: TopologyEdgeView[] = [];
  const producersSeen = new Set<string>();
  const produced = new Map<string, Map<string, number>>();
  const sampledTopics = topicsToSample(topicNames, announcements);
  for (const topic of topicNames) {
    const sampled = new Map<string, number>();
    const count = sampledTopics.has(topic) ? TOPOLOGY_SAMPLE_RECORDS : 0;
    const tail = await readTail(target, topic, count, signal, (record) => {
      const source = headerMap(record).ce_source;
      if (source === undefined || source === '') return;
      const service = serviceOfSource(source);
      sampled.set(service, (sampled.get(service) ?? 0) + 1);
      producersSeen.add(service);
    });
    const ratePerSecond = rates.sample(`topic\u0000${topic}`, tail.end, nowMs);
    topics.push({ name: topic, partitions: tail.partitions, messages: String(tail.messages), ratePerSecond });
    produced.set(topic, sampled);
  }
  const services = servicesOf(announcements, producersSeen, nowMs);
  // Producers of a topic: those announcing a contract on it and those whose records were sampled.
  // The topic's rate is shared out by each producer's part of the sample (an estimate).
  const topicRates = new Map(topics.map((topic) => [topic.name, topic.ratePerSecond]));
  for (const topic of topicNames) {
    const sampled = produced.get(topic)!;
    const declared = [...services.values()]
      .filter((service) => service.publishes.some((entry) => entry.topic === topic))
      .map((service) => service.name);
    const producers = union([...sampled.keys()], declared);
    const sampleSize = [...sampled.values()].reduce((sum, count) => sum + count, 0);
    const rate = topicRates.get(topic) ?? null;
    for (const producer of producers) {
      const share =
        sampleSize > 0 ? (sampled.get(producer) ?? 0) / sampleSize : producers.length === 1 ? 1 : null;
      edges.push({
        from: `service:${producer}`,
        to: `topic:${topic}`,
        kind: 'produces',
        ratePerSecond: rate === null || share === null ? null : rate * share,
      });
    }
  }
  const groups = await groupsOf(target, services, new Set(topicNames), rates, nowMs, edges);
  return {
    services: [...services.values()].sort((a, b) => a.name.localeCompare(b.name)),
    topics,
    groups,
    edges,
    unsampledTopics: topicNames.length - sampledTopics.size,
    rateWindowMs: RATE_WINDOW_MS,
    readAtMs: nowMs,
  };
}

/** The groups with lag and consumption rates, and their `consumes` and `handles` edges (added to `edges`). */
async function groupsOf(
  target: Target,
  services: Map<string, TopologyServiceView>,
  topicNames: ReadonlySet<string>,
  rates: RateWindow,
  nowMs: number,
  edges: TopologyEdgeView[],
): Promise<TopologyGroupView[]> {
  const handledBy = new Map<string, Set<string>>();
  for (const service of services.values()) {
    for (const handler of service.handlers) {
      const names = handledBy.get(handler.group) ?? new Set<string>();
      names.add(service.name);
      handledBy.set(handler.group, names);
    }
  }
  const groups: TopologyGroupView[] = [];
  const seen = new Set<string>();
  for (const view of await listGroupViews(target)) {
    const positions = view.positions.filter((position) => topicNames.has(position.topic));
    if (positions.length === 0 && !handledBy.has(view.group)) continue;
    seen.add(view.group);
    let groupRate: number | null = null;
    let timeLagMs = 0;
    let lag = 0n;
    let members: number | null = null;
    for (const position of positions) {
      const committed = position.partitions.reduce((sum, p) => sum + BigInt(p.committed ?? '0'), 0n);
      const rate = rates.sample(`group\u0000${view.group}\u0000${position.topic}`, committed, nowMs);
      if (rate !== null) groupRate = (groupRate ?? 0) + rate;
      timeLagMs = Math.max(timeLagMs, position.timeLagMs);
      lag += BigInt(position.lag);
      if (position.members !== null) members = Math.max(members ?? 0, position.members);
      edges.push({
        from: `topic:${position.topic}`,
        to: `group:${view.group}`,
        kind: 'consumes',
        ratePerSecond: rate,
        lag: position.lag,
      });
    }
    groups.push({
      group: view.group,
      members,
      lag: String(lag),
      timeLagMs,
      ratePerSecond: groupRate,
      services: [...(handledBy.get(view.group) ?? [])].sort(),
    });
  }
  // Announced groups that have no position yet (nothing consumed, or a transport without positions).
  for (const [group, names] of handledBy) {
    if (seen.has(group)) continue;
    groups.push({
      group,
      members: null,
      lag: '0',
      timeLagMs: 0,
      ratePerSecond: null,
      services: [...names].sort(),
    });
    for (const service of services.values()) {
      for (const handler of service.handlers) {
        if (handler.group === group && topicNames.has(handler.topic)) {
          edges.push({
            from: `topic:${handler.topic}`,
            to: `group:${group}`,
            kind: 'consumes',
            ratePerSecond: null,
          });
        }
      }
    }
  }
  for (const group of groups) {
    for (const service of group.services) {
      edges.push({
        from: `group:${group.group}`,
        to: `service:${service}`,
        kind: 'handles',
        ratePerSecond: group.ratePerSecond,
      });
    }
  }
  return groups.sort((a, b) => a.group.localeCompare(b.group));
}
