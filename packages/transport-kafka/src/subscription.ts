/**
 * One Herald subscription = one member of the Kafka consumer group (classic protocol, eager
 * `roundrobin` assignment through `@platformatic/kafka`'s `Consumer`) plus a fetch loop of its own.
 *
 * Life of a member:
 * - **Join.** Before every JoinGroup (the first, and each rejoin after a heartbeat reported a
 *   rebalance or the coordinator forgot the member) the client awaits `protocolsMetadata`; Herald
 *   uses that hook as the revoke callback: it stops delivering, waits up to `drainTimeoutMs` for
 *   the handlers in flight to settle, commits what is safe with the generation that still owns
 *   the partitions, then forgets every partition (what is still running is abandoned: its acks do
 *   nothing and its messages go to the next owner). Only then does the JoinGroup go out, so the
 *   rebalance cannot complete while this member still delivers from a partition it is giving up.
 * - **Assignment.** After SyncGroup, each assigned partition starts at the group's committed
 *   offset (the log start for a new group) and is fetched by this member's own loop, on a second
 *   client so long-polls never delay heartbeats.
 * - **Delivery** (`partition-delivery.ts`, over `partition-window.ts`). Per partition a `KeyedFifo`
 *   of the records fetched and not committable (at most `partitionWindowMax`; a fetch that returns
 *   more is admitted up to the bound and the rest is fetched again later): per-key order, keys in
 *   parallel, up to `inFlightMax` across partitions, taken round-robin. A nacked record keeps its
 *   key blocked while its delay runs.
 * - **Commit** (`offset-committer.ts`). After acks the commit point (lowest unfinished offset) of
 *   each partition is committed, coalesced: one OffsetCommit in flight per member, with the
 *   member's generation, and only for partitions it owns in that generation.
 * - **Broker gone.** Fetches, joins and position reads retry with bounded exponential backoff
 *   (100 ms doubling to `retryDelayMsMax`, jittered; reset by a success), each wait cancelled by
 *   `close()`; their warnings are throttled to one per 30 s per subscription. `close()` waits at
 *   most `closeTimeoutMs` for the broker (less when the transport's close was given a shorter
 *   `timeoutMs`, as `bus.stop` does), then drops the connections.
 */
import type { CloseOptions, ConnectionHealth, LogFields, MessageHandler, Subscription } from '@herald/bus';
import { Consumer, type ConsumerGroupJoinPayload, ListOffsetTimestamps } from '@platformatic/kafka';
import { subscriptionAwareRoundRobin } from './assigner.ts';
import { Backoff } from './backoff.ts';
import { DEBUG, debug, traceMember } from './debug.ts';
import { describeError, firstJoinWindowMs, hasKafkaError, healthSource, shouldJoinAgain } from './errors.ts';
import { OffsetCommitter } from './offset-committer.ts';
import { RETRY_DELAY_MS_FIRST, type ResolvedOptions, WARNING_INTERVAL_MS } from './options.ts';
import { PartitionDelivery } from './partition-delivery.ts';
import { admitBatches, type FetchResponse, type PartitionWindow } from './partition-window.ts';
import { quietly, settledWithin } from './settled-within.ts';
import { WarningThrottle } from './warning-throttle.ts';

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly options: ResolvedOptions;
  /** Logs a problem the subscription recovers from by itself (the subscription throttles its calls). */
  warn(message: string, fields?: LogFields): void;
  /** Fetch and join failures and recoveries, for the transport's `health()`. */
  readonly connection: ConnectionHealth;
  /** Called once the subscription is closed, so the transport forgets it. */
  forget(subscription: KafkaSubscription): void;
}

type State = 'joining' | 'active' | 'draining' | 'closed';

/** Connection options shared by the member's two clients. */
function clientOptions(options: ResolvedOptions, clientId: string) {
  return {
    clientId,
    bootstrapBrokers: [...options.brokers],
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    timeout: options.requestTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    retries: 3,
    retryDelay: options.retryDelayMs,
  };
}

/** A group member delivering one topic to one handler. */
export class KafkaSubscription implements Subscription {
  readonly topic: string;
  readonly group: string;
  readonly #host: SubscriptionHost;
  readonly #options: ResolvedOptions;
  /** The group member: joins, heartbeats, commits. */
  readonly #member: Consumer;
  /** A client of its own for fetches and offset lookups. */
  readonly #fetcher: Consumer;
  #state: State = 'joining';

  /** Whether close() has begun (a method, so narrowing of `#state` across awaits does not apply). */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }
  /** The owned partitions and the records in flight from them. */
  readonly #delivery: PartitionDelivery;
  readonly #commits: OffsetCommitter;
  /** Generation the current partitions were assigned in. */
  #generation = -1;
  /** Bumped whenever the owned partitions change, so work started before is dropped. */
  #ownership = 0;
  /** Wakes the fetch loop when it waits for partitions or room. */
  #wake: (() => void) | undefined;
  #fetchLoop: Promise<void> | undefined;
  #rejoinTimer: NodeJS.Timeout | undefined;
  #joining: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;
  readonly #sleepers = new Set<() => void>();
  /** One backoff per retry loop, so a fetch that succeeds does not reset a failing join. */
  readonly #fetchBackoff: Backoff;
  readonly #joinBackoff: Backoff;
  readonly #positionsBackoff: Backoff;
  /** At most one warning per {@link WARNING_INTERVAL_MS} from this subscription. */
  readonly #warnings: WarningThrottle;
  #topicId: string | undefined;
  #leaders: Map<number, number> | undefined;

  constructor(
    host: SubscriptionHost,
    topic: string,
    group: string,
    inFlightMax: number,
    handler: MessageHandler,
  ) {
    this.#host = host;
    this.#options = host.options;
    this.topic = topic;
    this.group = group;
    const options = this.#options;
    this.#fetchBackoff = new Backoff(RETRY_DELAY_MS_FIRST, options.retryDelayMsMax);
    this.#joinBackoff = new Backoff(RETRY_DELAY_MS_FIRST, options.retryDelayMsMax);
    this.#positionsBackoff = new Backoff(RETRY_DELAY_MS_FIRST, options.retryDelayMsMax);
    this.#warnings = new WarningThrottle(
      (message) => host.warn(message, { group, topic }),
      WARNING_INTERVAL_MS,
    );
    const groupOptions = {
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      protocolsMetadata: () => this.#beforeJoin(),
      partitionAssigner: subscriptionAwareRoundRobin,
    };
    this.#member = new Consumer({
      ...clientOptions(options, options.clientId),
      // No retries inside the client: a failed commit would otherwise rejoin the group and
      // commit again with the new generation, for partitions that may have moved. Herald retries
      // joins itself (see #scheduleRejoin); a failed commit is retried by the next one.
      retries: 0,
      groupId: group,
      autocommit: false,
      ...groupOptions,
    });
    this.#fetcher = new Consumer({
      ...clientOptions(options, `${options.clientId}-fetch`),
      groupId: group,
      autocommit: false,
    });
    this.#member.topics.track(topic);
    this.#fetcher.topics.track(topic);
    this.#delivery = new PartitionDelivery({
      topic,
      handler,
      inFlightMax,
      nackDelayMsMax: options.nackDelayMsMax,
      isActive: () => this.#state === 'active',
      isClosed: () => this.#isClosed(),
      commitLater: () => this.#commits.later(),
      wakeFetcher: () => this.#wake?.(),
    });
    this.#commits = new OffsetCommitter({
      topic,
      group,
      member: this.#member,
      commitIntervalMs: options.commitIntervalMs,
      mayCommit: () => this.#state === 'active' || this.#state === 'draining',
      generation: () => this.#generation,
      ownership: () => this.#ownership,
      windows: () => this.#delivery.windows,
      warn: (problem) => this.#warn(problem),
    });
    this.#member.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => this.#assigned(payload));
    // The client emits 'error' when a rejoin failed for good (e.g. the broker was down through
    // every retry) and then stops heartbeating: join again after a pause.
    this.#member.on('error', (error: unknown) => {
      if (this.#state === 'closed') return;
      this.#warn(`${describeError(error)}; joining again`);
      this.#scheduleRejoin();
    });
    this.#fetcher.on('error', () => {});
    if (DEBUG) traceMember(this.#member, group, topic, describeError);
  }

  /** Warns (throttled) about something this subscription recovers from by itself. */
  #warn(problem: string): void {
    if (this.#isClosed()) return;
    this.#warnings.warn(`kafka group ${this.group} on ${this.topic}: ${problem}`);
  }

  /** Joins the group and starts fetching; resolves once this member has its first assignment. */
  async start(): Promise<void> {
    this.#fetchLoop = this.#runFetchLoop();
    // A coordinator that is still starting (Apache Kafka creating __consumer_offsets), or a group
    // others keep joining meanwhile, fails the first join: join again, backing off, for as long as
    // a rebalance may last (see shouldJoinAgain and firstJoinWindowMs).
    const deadline = performance.now() + firstJoinWindowMs(this.#options);
    for (let delayMs = this.#options.retryDelayMs; ; delayMs = Math.min(delayMs * 2, 2_000)) {
      try {
        await this.#join();
        return;
      } catch (error) {
        if (!shouldJoinAgain(error) || this.#state === 'closed' || performance.now() + delayMs > deadline) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  #join(): Promise<unknown> {
    this.#joining ??= this.#member
      .joinGroup({
        sessionTimeout: this.#options.sessionTimeoutMs,
        heartbeatInterval: this.#options.heartbeatIntervalMs,
        rebalanceTimeout: this.#options.rebalanceTimeoutMs,
        protocolsMetadata: () => this.#beforeJoin(),
        partitionAssigner: subscriptionAwareRoundRobin,
      })
      .then((result) => {
        this.#host.connection.recovered(healthSource('join', this.topic, this.group));
        this.#joinBackoff.reset();
        return result;
      })
      .finally(() => {
        this.#joining = undefined;
      });
    return this.#joining;
  }

  #scheduleRejoin(): void {
    if (this.#state === 'closed' || this.#rejoinTimer !== undefined) return;
    this.#rejoinTimer = setTimeout(() => {
      this.#rejoinTimer = undefined;
      if (this.#state === 'closed') return;
      this.#join().catch((error: unknown) => {
        if (this.#state === 'closed') return;
        this.#host.connection.failed(healthSource('join', this.topic, this.group), error);
        this.#warn(`join failed: ${describeError(error)}`);
        this.#scheduleRejoin();
      });
    }, this.#joinBackoff.next());
  }

  /**
   * The revoke step, run by the client before each JoinGroup: stop delivering, drain (bounded),
   * commit with the generation that still owns the partitions, forget them.
   */
  async #beforeJoin(): Promise<Buffer> {
    if (DEBUG) debug(this.group, this.topic, 'revoking', this.#state, `in flight ${this.#delivery.inFlight}`);
    if (this.#state === 'active') {
      this.#state = 'draining';
      const started = performance.now();
      await this.#delivery.drained(this.#options.drainTimeoutMs);
      // Bounded: the member must rejoin within its session timeout whatever the broker does.
      const leftMs = Math.max(100, this.#options.drainTimeoutMs - (performance.now() - started));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#commits.soon(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, leftMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#dropPartitions();
    if (this.#state !== 'closed') this.#state = 'joining';
    return Buffer.alloc(0);
  }

  /** SyncGroup gave this member its partitions for `generationId`. */
  #assigned(payload: ConsumerGroupJoinPayload): void {
    if (this.#state === 'closed') return;
    this.#joinBackoff.reset(); // Also after a rejoin the client ran by itself.
    this.#dropPartitions(); // Normally done by #beforeJoin already.
    this.#generation = payload.generationId ?? this.#member.generationId;
    const partitions =
      payload.assignments?.find((assignment) => assignment.topic === this.topic)?.partitions ?? [];
    this.#delivery.assign(partitions, this.#options.partitionWindowMax);
    this.#state = 'active';
    const ownership = this.#ownership;
    void this.#loadPositions(ownership, partitions);
  }

  /** Starts each partition at the group's committed offset, or the log start for a new group. */
  async #loadPositions(ownership: number, partitions: readonly number[]): Promise<void> {
    while (ownership === this.#ownership && partitions.length > 0) {
      try {
        const committed = await this.#member.listCommittedOffsets({
          topics: [{ topic: this.topic, partitions: [...partitions] }],
        });
        const offsets = committed.get(this.topic) ?? [];
        const fresh = partitions.filter((partition) => (offsets[partition] ?? -1n) < 0n);
        let earliest: bigint[] = [];
        if (fresh.length > 0) {
          const listed = await this.#fetcher.listOffsets({
            topics: [this.topic],
            partitions: { [this.topic]: fresh },
            timestamp: ListOffsetTimestamps.EARLIEST,
          });
          earliest = listed.get(this.topic) ?? [];
        }
        if (ownership !== this.#ownership) return;
        for (const partition of partitions) {
          const start = (offsets[partition] ?? -1n) >= 0n ? offsets[partition]! : (earliest[partition] ?? 0n);
          this.#delivery.window(partition)?.start(start);
        }
        this.#positionsBackoff.reset();
        this.#wake?.();
        return;
      } catch (error) {
        if (ownership !== this.#ownership || this.#isClosed()) return;
        this.#warn(`reading positions failed: ${describeError(error)}`);
        await this.#pause(this.#positionsBackoff.next());
      }
    }
  }

  /** Forgets every owned partition: settlements of their deliveries do nothing afterwards. */
  #dropPartitions(): void {
    this.#ownership += 1;
    this.#delivery.drop();
  }

  // ---- fetching -------------------------------------------------------------------------------

  async #runFetchLoop(): Promise<void> {
    while (this.#state !== 'closed') {
      const wanted =
        this.#state === 'active'
          ? this.#delivery.windows.filter(
              (window) => window.nextFetch !== undefined && window.records.hasRoom(),
            )
          : [];
      if (wanted.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      const ownership = this.#ownership;
      let responses: FetchResponse[];
      try {
        responses = await this.#fetch(wanted);
      } catch (error) {
        if (this.#isClosed()) return;
        this.#leaders = undefined;
        if (hasKafkaError(error, 'OFFSET_OUT_OF_RANGE')) {
          // Retention removed what the group had not read: continue from the log start.
          await this.#resetToEarliest(ownership, wanted).catch(() => {});
        } else {
          this.#host.connection.failed(healthSource('fetch', this.topic, this.group), error);
          this.#warn(`fetch failed: ${describeError(error)}`);
        }
        await this.#pause(this.#fetchBackoff.next());
        continue;
      }
      this.#fetchBackoff.reset();
      this.#host.connection.recovered(healthSource('fetch', this.topic, this.group));
      if (ownership !== this.#ownership || this.#isClosed()) continue;
      for (const response of responses) this.#admit(response);
      this.#delivery.drain();
    }
  }

  async #fetch(windows: readonly PartitionWindow[]): Promise<FetchResponse[]> {
    if (this.#leaders === undefined || this.#topicId === undefined) {
      const metadata = await this.#fetcher.metadata({ topics: [this.topic] });
      const topic = metadata.topics.get(this.topic);
      if (topic === undefined) throw new Error(`no metadata for topic ${this.topic}`);
      this.#topicId = topic.id;
      this.#leaders = new Map(topic.partitions.map((partition, index) => [index, partition.leader]));
    }
    const byNode = new Map<number, PartitionWindow[]>();
    for (const window of windows) {
      const node = this.#leaders.get(window.partition);
      if (node === undefined) throw new Error(`no leader for ${this.topic}/${window.partition}`);
      const list = byNode.get(node) ?? [];
      list.push(window);
      byNode.set(node, list);
    }
    const topicId = this.#topicId;
    return Promise.all(
      [...byNode].map(([node, list]) =>
        this.#fetcher.fetch({
          node,
          topics: [
            {
              topicId,
              partitions: list.map((window) => ({
                partition: window.partition,
                fetchOffset: window.nextFetch!,
                partitionMaxBytes: this.#options.fetchPartitionBytesMax,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            },
          ],
          minBytes: 1,
          maxWaitTime: this.#options.fetchWaitMsMax,
        }),
      ),
    );
  }

  #admit(response: FetchResponse): void {
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        const window = this.#delivery.window(partition.partitionIndex);
        if (window === undefined || !window.started) continue;
        admitBatches(window.records, partition.records ?? []);
      }
    }
  }

  async #resetToEarliest(ownership: number, windows: readonly PartitionWindow[]): Promise<void> {
    const listed = await this.#fetcher.listOffsets({
      topics: [this.topic],
      partitions: { [this.topic]: windows.map((window) => window.partition) },
      timestamp: ListOffsetTimestamps.EARLIEST,
    });
    if (ownership !== this.#ownership) return;
    const offsets = listed.get(this.topic) ?? [];
    for (const window of windows) {
      const start = offsets[window.partition];
      if (start !== undefined && window.records.size === 0 && (window.nextFetch ?? 0n) < start)
        window.start(start);
    }
  }

  // ---- closing --------------------------------------------------------------------------------

  /** Waits `ms`, or less if the subscription closes meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = () => {
        clearTimeout(timer);
        this.#sleepers.delete(cancel);
        resolve();
      };
      const timer = setTimeout(cancel, ms);
      this.#sleepers.add(cancel);
    });
  }

  /**
   * Stops delivering, commits what was acked, leaves the group and closes both clients, waiting on
   * the broker at most `options.timeoutMs` (at most, and by default, `closeTimeoutMs`).
   */
  close(options: CloseOptions = {}): Promise<void> {
    const timeoutMs = Math.min(
      this.#options.closeTimeoutMs,
      Math.max(0, options.timeoutMs ?? Number.POSITIVE_INFINITY),
    );
    return this.closeBy(performance.now() + timeoutMs);
  }

  /** {@link close}, waiting on the broker until `deadlineMs` (a `performance.now()` time): the transport's close. */
  closeBy(deadlineMs: number): Promise<void> {
    this.#closing ??= this.#close(deadlineMs);
    return this.#closing;
  }

  /**
   * Bounded by `deadlineMs` whatever the broker does: the last commit gets half the time, leaving
   * the group and closing the clients the rest; then the connections are dropped, which fails
   * whatever request still waits on them. Pending retries are cancelled at once.
   */
  async #close(deadlineMs: number): Promise<void> {
    const leftMs = () => Math.max(0, deadlineMs - performance.now());
    if (this.#state === 'active') {
      this.#state = 'draining'; // Delivers nothing more but may still commit.
      await settledWithin(this.#commits.soon(), leftMs() / 2);
    }
    this.#state = 'closed';
    clearTimeout(this.#rejoinTimer);
    this.#commits.stopTimer();
    this.#dropPartitions();
    this.#wake?.();
    for (const cancel of [...this.#sleepers]) cancel();
    const closed = Promise.all([
      quietly(this.#member.close(true).catch(() => this.#member.close(true))),
      quietly(this.#fetcher.close(true)),
      quietly(this.#joining),
      quietly(this.#fetchLoop),
    ]);
    if (!(await settledWithin(closed, leftMs()))) {
      this.#host.warn(
        `kafka group ${this.group} on ${this.topic}: the broker did not answer before the close deadline (closeTimeoutMs ${this.#options.closeTimeoutMs} ms, or less when bus.stop's timeoutMs ran out) while closing; connections dropped`,
      );
    }
    // Idempotent: after a clean close there is nothing left to drop; otherwise no socket outlives close().
    await settledWithin(
      Promise.all([quietly(this.#member.connections.close()), quietly(this.#fetcher.connections.close())]),
      1_000,
    );
    this.#host.forget(this);
  }
}
