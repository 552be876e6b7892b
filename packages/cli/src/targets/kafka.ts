/**
 * The `--broker HOST:PORT` target: Kafka protocol through @platformatic/kafka, to `herald serve`
 * or any Kafka broker. Reads use plain Fetch requests (no group membership), so `consume`
 * without `-g` leaves no trace on the broker; group positions are Kafka committed offsets.
 */
import { partitionForKey } from '@herald/bus/internal';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { type ClientConfig, DEFAULT_CLIENT_CONFIG } from '../client-config.ts';
import { type ClientSecurity, clientSecurity } from '../client-security.ts';
import { CliError, EXIT } from '../errors.ts';
import type {
  ConsumedRecord,
  FetchResult,
  GroupKind,
  GroupListing,
  GroupPosition,
  OutgoingMessage,
  Target,
  TopicInfo,
} from './target.ts';

const EARLIEST = -2n;
const LATEST = -1n;
/** Batch attribute: timestamps are the broker's append time. */
const LOG_APPEND_TIME = 0x08;
/** Control batches (transaction markers) carry no data. */
const CONTROL_BATCH = 0x20;

/** Connects lazily to `address` (host:port). */
export function connectBroker(address: string, config: ClientConfig = DEFAULT_CLIENT_CONFIG): Target {
  if (!/^[^:\s]+:\d{1,5}$/.test(address)) {
    throw new CliError(`--broker must be HOST:PORT, got "${address}"`, EXIT.usage);
  }
  return new KafkaTarget(address, config);
}

/** Every Kafka error name (`UNKNOWN_TOPIC_OR_PARTITION`…) and client code inside `error`. */
function errorNames(error: unknown, found = new Set<string>(), depth = 0): Set<string> {
  if (error === null || typeof error !== 'object' || depth > 8) return found;
  const record = error as { apiId?: unknown; code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof record.apiId === 'string') found.add(record.apiId);
  if (typeof record.code === 'string') found.add(record.code);
  if (Array.isArray(record.errors)) for (const inner of record.errors) errorNames(inner, found, depth + 1);
  errorNames(record.cause, found, depth + 1);
  return found;
}

class KafkaTarget implements Target {
  readonly description: string;
  readonly #bootstrap: string[];
  #admin: Admin | undefined;
  #producer: Producer | undefined;
  #consumer: Consumer | undefined;
  readonly #partitionCounts = new Map<string, number>();
  #keylessCall = 0;

  readonly #config: ClientConfig;
  readonly #security: ClientSecurity;

  constructor(address: string, config: ClientConfig) {
    this.#config = config;
    this.#security = clientSecurity(config);
    this.description = `broker ${address}`;
    this.#bootstrap = [address];
  }

  get #base() {
    return {
      clientId: this.#config.clientId,
      bootstrapBrokers: this.#bootstrap,
      // A request that gets no answer within this fails: the CLI must never hang on a dead broker.
      timeout: this.#config.requestTimeoutMs,
      retries: 1,
      retryDelay: 250,
      ...this.#security,
    };
  }

  get #adminClient(): Admin {
    this.#admin ??= new Admin(this.#base);
    return this.#admin;
  }

  get #consumerClient(): Consumer {
    // A consumer object is needed for Fetch; it never joins its (unused) group.
    this.#consumer ??= new Consumer({ ...this.#base, groupId: 'herald-cli-reader' });
    return this.#consumer;
  }

  /** Runs `operation`, mapping Kafka and network errors to exit codes with a message saying what to do. */
  async #call<T>(what: string, operation: () => Promise<T>, topic?: string): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof CliError) throw error;
      const names = errorNames(error);
      const detail = (error as Error).message;
      if (
        names.has('UNKNOWN_TOPIC_OR_PARTITION') ||
        names.has('UNKNOWN_TOPIC_ID') ||
        /^Unknown topic /.test(detail)
      ) {
        throw new CliError(`topic "${topic ?? '?'}" does not exist on ${this.description}`, EXIT.notFound, {
          cause: error,
        });
      }
      if (names.has('TOPIC_ALREADY_EXISTS')) {
        throw new CliError(`topic "${topic ?? '?'}" already exists on ${this.description}`, EXIT.conflict, {
          cause: error,
        });
      }
      if (
        names.has('PLT_KFK_AUTHENTICATION') ||
        names.has('SASL_AUTHENTICATION_FAILED') ||
        /SASL/.test(detail)
      ) {
        throw new CliError(
          `authentication to ${this.description} failed (${what}: ${describeError(error)}); check ` +
            'HERALD_KAFKA_SASL_MECHANISM, HERALD_KAFKA_SASL_USERNAME and HERALD_KAFKA_SASL_PASSWORD (or -X sasl.*)',
          EXIT.failure,
          { cause: error },
        );
      }
      if (names.has('PLT_KFK_NETWORK') || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|timed? ?out/i.test(detail)) {
        throw new CliError(
          `cannot reach ${this.description} (${what}: ${detail}); is herald serve running there?`,
          EXIT.unavailable,
          { cause: error },
        );
      }
      if (names.has('PLT_KFK_UNSUPPORTED_API')) {
        throw new CliError(`${this.description} does not implement ${what} (${detail})`, EXIT.unavailable, {
          cause: error,
        });
      }
      throw new CliError(`${what} on ${this.description} failed: ${describeError(error)}`, EXIT.failure, {
        cause: error,
      });
    }
  }

  listTopics(): Promise<string[]> {
    return this.#call('list topics', async () => (await this.#adminClient.listTopics()).sort());
  }

  async #partitionCount(topic: string, create: boolean): Promise<number> {
    const known = this.#partitionCounts.get(topic);
    if (known !== undefined) return known;
    const metadata = await this.#adminClient.metadata({
      topics: [topic],
      autocreateTopics: create,
      forceUpdate: true,
    });
    const count = metadata.topics.get(topic)?.partitionsCount;
    if (count === undefined || count === 0) {
      throw new CliError(`topic "${topic}" does not exist on ${this.description}`, EXIT.notFound);
    }
    this.#partitionCounts.set(topic, count);
    return count;
  }

  async #listOffsets(topic: string, partitions: number[], timestamp: bigint): Promise<Map<number, bigint>> {
    const listed = await this.#adminClient.listOffsets({
      topics: [
        { name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) },
      ],
    });
    const offsets = new Map<number, bigint>();
    for (const entry of listed.find((item) => item.name === topic)?.partitions ?? []) {
      offsets.set(entry.partitionIndex, entry.offset);
    }
    return offsets;
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.#call(
      'describe topic',
      async () => {
        const count = await this.#partitionCount(topic, false);
        const indexes = Array.from({ length: count }, (_, index) => index);
        const [starts, ends] = await Promise.all([
          this.#listOffsets(topic, indexes, EARLIEST),
          this.#listOffsets(topic, indexes, LATEST),
        ]);
        return {
          name: topic,
          partitions: indexes.map((partition) => ({
            partition,
            logStartOffset: starts.get(partition) ?? 0n,
            highWatermark: ends.get(partition) ?? 0n,
            sizeBytes: undefined,
          })),
          createdAtMs: undefined,
          retention: await this.#retention(topic),
        };
      },
      topic,
    );
  }

  /** `retention.ms`/`retention.bytes` from DescribeConfigs (herald serve reports -1: no limit). */
  async #retention(topic: string): Promise<TopicInfo['retention']> {
    try {
      const described = await this.#adminClient.describeConfigs({
        resources: [
          { resourceType: 2, resourceName: topic, configurationKeys: ['retention.ms', 'retention.bytes'] },
        ],
      });
      const configs = described[0]?.configs ?? [];
      const number = (name: string) => {
        const value = configs.find((config) => config.name === name)?.value;
        return value === undefined || value === null || Number(value) < 0 ? undefined : Number(value);
      };
      return { ms: number('retention.ms'), bytes: number('retention.bytes'), note: 'from DescribeConfigs' };
    } catch {
      return { ms: undefined, bytes: undefined, note: 'unknown: the broker does not answer DescribeConfigs' };
    }
  }

  createTopic(topic: string, partitions: number | undefined): Promise<void> {
    return this.#call(
      'create topic',
      async () => {
        await this.#adminClient.createTopics({ topics: [topic], partitions: partitions ?? -1, replicas: -1 });
      },
      topic,
    );
  }

  deleteTopic(topic: string): Promise<void> {
    return this.#call(
      'delete topic',
      async () => {
        await this.#adminClient.deleteTopics({ topics: [topic] });
        this.#partitionCounts.delete(topic);
      },
      topic,
    );
  }

  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.#call(
      'produce',
      async () => {
        if (messages.length === 0) return;
        const count = await this.#partitionCount(topic, true);
        // Partitions chosen here as the embedded broker chooses them (murmur2 of the key; keyless
        // messages of one call together on the next partition), so both targets agree per key.
        const keyless = this.#keylessCall++ % count;
        this.#producer ??= new Producer({ ...this.#base, autocreateTopics: true });
        await this.#producer.send({
          acks: -1,
          messages: messages.map((message) => {
            const key = message.key === undefined ? undefined : Buffer.from(message.key, 'utf8');
            return {
              topic,
              ...(key === undefined ? {} : { key }),
              value: Buffer.from(message.value.buffer, message.value.byteOffset, message.value.byteLength),
              headers: new Map(
                Object.entries(message.headers).map(([name, value]) => [
                  Buffer.from(name, 'utf8'),
                  Buffer.from(value, 'utf8'),
                ]),
              ),
              partition: key === undefined ? keyless : partitionForKey(key, count),
            };
          }),
        });
      },
      topic,
    );
  }

  fetch(topic: string, partition: number, offset: bigint, waitMs: number): Promise<FetchResult> {
    return this.#call(
      'fetch',
      async () => {
        const metadata = await this.#adminClient.metadata({ topics: [topic] });
        const leader = metadata.topics.get(topic)?.partitions[partition]?.leader;
        if (leader === undefined) {
          throw new CliError(
            `topic "${topic}" has no partition ${partition} on ${this.description}`,
            EXIT.notFound,
          );
        }
        let from = offset;
        const starts = await this.#listOffsets(topic, [partition], EARLIEST);
        const start = starts.get(partition) ?? 0n;
        if (from < start) from = start; // retention removed what was asked for: continue at the start
        const response = await this.#consumerClient.fetch({
          node: leader,
          maxWaitTime: waitMs,
          minBytes: 1,
          maxBytes: this.#config.partitionFetchBytesMax,
          topics: [
            {
              topicId: topic,
              partitions: [
                {
                  partition,
                  currentLeaderEpoch: -1,
                  fetchOffset: from,
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: this.#config.partitionFetchBytesMax,
                },
              ],
            },
          ],
        });
        const answer = response.responses[0]?.partitions.find((item) => item.partitionIndex === partition);
        if (answer === undefined)
          return { records: [], nextOffset: from, highWatermark: from, logStartOffset: start };
        const records: ConsumedRecord[] = [];
        let next = from;
        for (const batch of answer.records ?? []) {
          next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
          if ((batch.attributes & CONTROL_BATCH) !== 0) continue;
          for (const record of batch.records) {
            const recordOffset = batch.firstOffset + BigInt(record.offsetDelta);
            if (recordOffset < from) continue;
            records.push({
              topic,
              partition,
              offset: recordOffset,
              timestampMs: Number(batch.firstTimestamp + record.timestampDelta),
              timestampType: (batch.attributes & LOG_APPEND_TIME) === 0 ? 'create' : 'logappend',
              brokerId: leader,
              key: record.key,
              value: record.value,
              headers: record.headers.map(([name, value]) => [name?.toString('utf8') ?? '', value] as const),
            });
          }
        }
        return {
          records,
          nextOffset: next,
          highWatermark: answer.highWatermark,
          logStartOffset: answer.logStartOffset < 0n ? start : answer.logStartOffset,
        };
      },
      topic,
    );
  }

  offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<bigint | undefined> {
    return this.#call(
      'list offsets',
      async () => {
        const offset = (await this.#listOffsets(topic, [partition], BigInt(timestampMs))).get(partition);
        return offset === undefined || offset < 0n ? undefined : offset;
      },
      topic,
    );
  }

  listGroups(): Promise<GroupListing[]> {
    return this.#call('ListGroups', async () => {
      let listed: Map<string, { id: string }>;
      try {
        listed = await this.#adminClient.listGroups();
      } catch (error) {
        if (errorNames(error).has('PLT_KFK_NETWORK')) throw error;
        throw new CliError(
          `${this.description} does not answer ListGroups; ` +
            'name the group instead: herald groups describe -g GROUP',
          EXIT.unavailable,
          { cause: error },
        );
      }
      const groups: GroupListing[] = [];
      for (const id of [...listed.keys()].sort()) {
        const positions = await this.describeGroup(id, undefined);
        groups.push({
          group: id,
          kind: 'kafka',
          topics: positions.map((position) => position.topic),
          // A group that has not committed yet has no positions, but may have live members.
          members: positions[0]?.members ?? (await this.#members(id)),
        });
      }
      return groups;
    });
  }

  describeGroup(group: string, topic: string | undefined): Promise<GroupPosition[]> {
    return this.#call(
      'describe group',
      async () => {
        let topics: { name: string; partitionIndexes: number[] }[] | null = null;
        if (topic !== undefined) {
          const count = await this.#partitionCount(topic, false);
          topics = [{ name: topic, partitionIndexes: Array.from({ length: count }, (_, index) => index) }];
        }
        const listed = await this.#adminClient.listConsumerGroupOffsets({
          groups: [{ groupId: group, topics }],
        });
        const members = await this.#members(group);
        const positions: GroupPosition[] = [];
        for (const entry of listed[0]?.topics ?? []) {
          const committed = new Map<number, bigint>();
          for (const partition of entry.partitions) {
            if (partition.committedOffset >= 0n)
              committed.set(partition.partitionIndex, partition.committedOffset);
          }
          if (committed.size === 0) continue;
          positions.push({
            group,
            topic: entry.name,
            kind: 'kafka',
            members,
            committed,
            ackedAhead: new Map(),
          });
        }
        return positions.sort((a, b) => a.topic.localeCompare(b.topic));
      },
      topic,
    );
  }

  /** Live members from DescribeGroups, or undefined where the broker does not answer it. */
  async #members(group: string): Promise<number | undefined> {
    try {
      const described = await this.#adminClient.describeGroups({ groups: [group] });
      return described.get(group)?.members.size ?? 0;
    } catch {
      return undefined;
    }
  }

  moveGroup(
    group: string,
    topic: string,
    kind: GroupKind,
    offsets: ReadonlyMap<number, bigint>,
  ): Promise<void> {
    return this.#call(
      'commit offsets',
      async () => {
        if (kind !== 'kafka') {
          throw new CliError(
            `embedded group "${group}" lives in the data directory, not in Kafka; stop its application and use --data`,
            EXIT.unavailable,
          );
        }
        try {
          await this.#adminClient.alterConsumerGroupOffsets({
            groupId: group,
            topics: [
              {
                name: topic,
                partitionOffsets: [...offsets].map(([partition, offset]) => ({ partition, offset })),
              },
            ],
          });
        } catch (error) {
          const names = errorNames(error);
          if (
            names.has('ILLEGAL_GENERATION') ||
            names.has('UNKNOWN_MEMBER_ID') ||
            names.has('REBALANCE_IN_PROGRESS')
          ) {
            throw new CliError(
              `group "${group}" has live members on ${this.description}, and Kafka refuses a commit from ` +
                'outside the group while it has members; stop its consumers, then try again',
              EXIT.conflict,
              { cause: error },
            );
          }
          throw error;
        }
      },
      topic,
    );
  }

  async close(): Promise<void> {
    const clients = [this.#producer, this.#consumer, this.#admin];
    this.#producer = undefined;
    this.#consumer = undefined;
    this.#admin = undefined;
    await Promise.allSettled(clients.map((client) => client?.close()));
  }
}

function describeError(error: unknown): string {
  const inner = (error as { errors?: unknown[] }).errors;
  if (Array.isArray(inner) && inner.length > 0) {
    return inner.map((item) => (item as Error).message).join('; ');
  }
  return (error as Error).message ?? String(error);
}
