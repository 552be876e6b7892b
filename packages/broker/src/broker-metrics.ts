/**
 * The broker's state as Prometheus gauges with kafka_exporter's names and labels
 * (`kafka_topic_partition_current_offset{topic,partition}`,
 * `kafka_consumergroup_lag{consumergroup,topic,partition}`, ...), so a Kafka dashboard built on
 * kafka_exporter works unchanged against `herald serve` or an embedded bus; plus
 * `herald_consumergroup_lag_seconds`, which kafka_exporter has no name for. Values are read on
 * each scrape (no timers, nothing kept between scrapes).
 */
import { decodeRecordBatchHeader } from '@herald/log';
import { Gauge, type Registry } from 'prom-client';
import type { Broker } from './broker.ts';

/**
 * Default bound on the series one scrape emits per family: topic partitions for the topic
 * families, (group, topic, partition) triples for the group families. 10 000 is far past a
 * single-node broker's working set (PARTITIONS_MAX per topic) and keeps a scrape under ~2 MB.
 */
export const METRIC_SERIES_MAX = 10_000;

/** Options of {@link registerBrokerMetrics}. */
export interface BrokerMetricsOptions {
  /**
   * Most series per family in one scrape (default {@link METRIC_SERIES_MAX}, at least 1). Past it,
   * the rest are left out and `herald_metrics_series_dropped` says how many.
   */
  readonly seriesMax?: number;
  /**
   * Whether to read the oldest unconsumed batch of each lagging partition for
   * `herald_consumergroup_lag_seconds` (default true): one small disk read per lagging partition per scrape.
   */
  readonly lagSeconds?: boolean;
  /**
   * Members of a group whose offsets Kafka clients commit (a `'committed'` group), from whoever
   * coordinates them (the Kafka-protocol server); without it such groups report 0 members.
   */
  readonly committedGroupMembers?: (group: string) => number;
}

/** One consumer group's position on one topic, as the metrics report it. */
interface GroupPosition {
  readonly group: string;
  readonly topic: string;
  readonly members: number;
  /** Next offset to consume, by partition (absent: nothing committed yet). */
  readonly committed: ReadonlyMap<number, bigint>;
  /** Acked messages beyond the committed offset (acked groups only), by partition. */
  readonly ackedAhead: ReadonlyMap<number, number>;
}

/**
 * Registers the broker gauges in `registry`; they read `broker` on each scrape (a function is
 * called on each scrape, for a broker that opens later). A closed or not yet open broker yields no
 * broker series (the scrape still answers). Returns a function that unregisters them.
 */
export function registerBrokerMetrics(
  broker: Broker | (() => Broker | undefined),
  registry: Registry,
  options: BrokerMetricsOptions = {},
): () => void {
  const seriesMax = Math.max(1, Math.floor(options.seriesMax ?? METRIC_SERIES_MAX));
  const lagSeconds = options.lagSeconds ?? true;
  // Every family shares one collect: prom-client calls each family's collect in the same tick, so
  // the first call starts one pass over the broker and the others await that same pass.
  let refreshing: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    refreshing ??= collect(broker, families, seriesMax, lagSeconds, options.committedGroupMembers).finally(
      () => {
        refreshing = undefined;
      },
    );
    return refreshing;
  };
  const gauge = (name: string, help: string, labelNames: readonly string[]) =>
    new Gauge({ name, help, labelNames, registers: [], collect: refresh });
  const topicLabels = ['topic', 'partition'] as const;
  const groupLabels = ['consumergroup', 'topic', 'partition'] as const;
  const families = {
    brokers: gauge('kafka_brokers', 'Number of Brokers in the Kafka Cluster.', []),
    partitions: gauge('kafka_topic_partitions', 'Number of partitions for this Topic', ['topic']),
    current: gauge(
      'kafka_topic_partition_current_offset',
      'Current Offset of a Broker at Topic/Partition',
      topicLabels,
    ),
    oldest: gauge(
      'kafka_topic_partition_oldest_offset',
      'Oldest Offset of a Broker at Topic/Partition',
      topicLabels,
    ),
    leader: gauge('kafka_topic_partition_leader', 'Leader Broker ID of this Topic/Partition', topicLabels),
    replicas: gauge(
      'kafka_topic_partition_replicas',
      'Number of Replicas for this Topic/Partition',
      topicLabels,
    ),
    inSync: gauge(
      'kafka_topic_partition_in_sync_replica',
      'Number of In-Sync Replicas for this Topic/Partition',
      topicLabels,
    ),
    preferred: gauge(
      'kafka_topic_partition_leader_is_preferred',
      '1 if Topic/Partition is using the Preferred Broker',
      topicLabels,
    ),
    underReplicated: gauge(
      'kafka_topic_partition_under_replicated_partition',
      '1 if Topic/Partition is under Replicated',
      topicLabels,
    ),
    groupOffset: gauge(
      'kafka_consumergroup_current_offset',
      'Current Offset of a ConsumerGroup at Topic/Partition',
      groupLabels,
    ),
    groupOffsetSum: gauge(
      'kafka_consumergroup_current_offset_sum',
      'Current Offset of a ConsumerGroup at Topic for all partitions',
      ['consumergroup', 'topic'],
    ),
    lag: gauge(
      'kafka_consumergroup_lag',
      'Current Approximate Lag of a ConsumerGroup at Topic/Partition',
      groupLabels,
    ),
    lagSum: gauge(
      'kafka_consumergroup_lag_sum',
      'Current Approximate Lag of a ConsumerGroup at Topic for all partitions',
      ['consumergroup', 'topic'],
    ),
    members: gauge('kafka_consumergroup_members', 'Amount of members in a consumer group', ['consumergroup']),
    lagSeconds: gauge(
      'herald_consumergroup_lag_seconds',
      'Age in seconds of the oldest message a ConsumerGroup has not consumed at Topic/Partition (0 without lag)',
      groupLabels,
    ),
    dropped: gauge(
      'herald_metrics_series_dropped',
      `Series left out of the last scrape because a family passed its bound (${seriesMax})`,
      [],
    ),
  };
  const all: Gauge[] = Object.values(families);
  for (const family of all) registry.registerMetric(family);
  return () => {
    for (const family of all) registry.removeSingleMetric((family as unknown as { name: string }).name);
  };
}

type Families = Record<
  | 'brokers'
  | 'partitions'
  | 'current'
  | 'oldest'
  | 'leader'
  | 'replicas'
  | 'inSync'
  | 'preferred'
  | 'underReplicated'
  | 'groupOffset'
  | 'groupOffsetSum'
  | 'lag'
  | 'lagSum'
  | 'members'
  | 'lagSeconds'
  | 'dropped',
  Gauge
>;

async function collect(
  source: Broker | (() => Broker | undefined),
  families: Families,
  seriesMax: number,
  lagSeconds: boolean,
  committedGroupMembers: ((group: string) => number) | undefined,
) {
  for (const family of Object.values(families)) family.reset();
  const broker = typeof source === 'function' ? source() : source;
  if (broker === undefined || broker.closed) return;
  let dropped = 0;
  families.brokers.set(1);
  const ends = new Map<string, readonly { logStartOffset: bigint; highWatermark: bigint }[]>();
  let topicSeries = 0;
  for (const topic of broker.listTopics()) {
    const description = await broker.describeTopic(topic).catch(() => undefined);
    if (description === undefined) continue; // deleted between listing and describing
    ends.set(topic, description.partitions);
    families.partitions.set({ topic }, description.partitions.length);
    for (const partition of description.partitions) {
      if (topicSeries >= seriesMax) {
        dropped += 1;
        continue;
      }
      topicSeries += 1;
      const labels = { topic, partition: String(partition.partition) };
      families.current.set(labels, Number(partition.highWatermark));
      families.oldest.set(labels, Number(partition.logStartOffset));
      // A single node leads every partition with its only replica.
      families.leader.set(labels, 0);
      families.replicas.set(labels, 1);
      families.inSync.set(labels, 1);
      families.preferred.set(labels, 1);
      families.underReplicated.set(labels, 0);
    }
  }
  const members = new Map<string, number>();
  let groupSeries = 0;
  for (const position of await groupPositions(broker, committedGroupMembers)) {
    members.set(position.group, (members.get(position.group) ?? 0) + position.members);
    const partitions = ends.get(position.topic) ?? [];
    let offsetSum = 0n;
    let lagSum = 0n;
    const nowMs = Date.now();
    for (const [partition, end] of partitions.entries()) {
      const stored = position.committed.get(partition);
      const next = stored === undefined || stored < end.logStartOffset ? end.logStartOffset : stored;
      let lag = end.highWatermark - next - BigInt(position.ackedAhead.get(partition) ?? 0);
      if (lag < 0n) lag = 0n;
      lagSum += lag;
      if (stored !== undefined) offsetSum += stored;
      if (groupSeries >= seriesMax) {
        dropped += 1;
        continue;
      }
      groupSeries += 1;
      const labels = { consumergroup: position.group, topic: position.topic, partition: String(partition) };
      // kafka_exporter reports -1 for a partition the group has not committed on.
      families.groupOffset.set(labels, stored === undefined ? -1 : Number(stored));
      families.lag.set(labels, Number(lag));
      let ageSeconds = 0;
      if (lagSeconds && lag > 0n) {
        const timestampMs = await oldestTimestampMs(broker, position.topic, partition, next);
        if (timestampMs !== undefined) ageSeconds = Math.max(0, (nowMs - timestampMs) / 1000);
      }
      families.lagSeconds.set(labels, ageSeconds);
    }
    families.groupOffsetSum.set({ consumergroup: position.group, topic: position.topic }, Number(offsetSum));
    families.lagSum.set({ consumergroup: position.group, topic: position.topic }, Number(lagSum));
  }
  for (const [group, count] of members) families.members.set({ consumergroup: group }, count);
  families.dropped.set(dropped);
}

/** Every group's position on every topic it has one on, both kinds (acked and Kafka-committed). */
async function groupPositions(
  broker: Broker,
  committedGroupMembers: ((group: string) => number) | undefined,
): Promise<GroupPosition[]> {
  const positions: GroupPosition[] = [];
  const listings = await broker.listGroups().catch(() => []);
  for (const listing of listings) {
    for (const topic of listing.topics) {
      try {
        if (listing.kind === 'committed') {
          positions.push({
            group: listing.group,
            topic,
            // Counted once per group: kafka_consumergroup_members sums a group's topics.
            members: topic === listing.topics[0] ? (committedGroupMembers?.(listing.group) ?? 0) : 0,
            committed: await broker.committedOffsets(topic, listing.group),
            ackedAhead: new Map(),
          });
          continue;
        }
        const description = await broker.describeGroup(topic, listing.group);
        positions.push({
          group: listing.group,
          topic,
          members: description.members,
          committed: new Map(description.partitions.map((entry) => [entry.partition, entry.committed])),
          ackedAhead: new Map(
            description.partitions.map((entry) => [entry.partition, entry.ackedAhead.length]),
          ),
        });
      } catch {
        // The topic was deleted between listing and describing: it has no position to report.
      }
    }
  }
  return positions;
}

/**
 * Timestamp of the batch holding `offset`: the age of the oldest unconsumed message, overstated
 * by at most the time the producer spent filling that batch (or, for the log's own appends, the
 * one write round the log merged into it, milliseconds). Undefined when it cannot be read
 * (retention removed it meanwhile).
 */
async function oldestTimestampMs(
  broker: Broker,
  topic: string,
  partition: number,
  offset: bigint,
): Promise<number | undefined> {
  try {
    // bytesMax 1: the log returns at least the one batch holding the offset, and no more.
    const read = await broker.readBatches(topic, partition, offset, 1);
    if (read.batchCount === 0) return undefined;
    const header = decodeRecordBatchHeader(read.batches);
    return header.baseTimestampMs >= 0 ? header.baseTimestampMs : undefined;
  } catch {
    return undefined;
  }
}
