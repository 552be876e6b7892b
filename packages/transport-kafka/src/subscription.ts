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
 * - **Delivery.** Per partition a {@link KeyedFifo} of the records fetched and not committable
 *   (at most `partitionWindowMax`; a fetch that returns more is admitted up to the bound and the
 *   rest is fetched again later): per-key order, keys in parallel, up to `inFlightMax` across
 *   partitions, taken round-robin. A nacked record keeps its key blocked while its delay runs.
 * - **Commit.** After acks the commit point (lowest unfinished offset) of each partition is
 *   committed, coalesced: one OffsetCommit in flight per member, with the member's generation, and
 *   only for partitions it owns in that generation.
 * - **Broker gone.** Fetches, joins and position reads retry with bounded exponential backoff
 *   (100 ms doubling to `retryDelayMsMax`, jittered; reset by a success), each wait cancelled by
 *   `close()`; their warnings are throttled to one per 30 s per subscription. `close()` waits at
 *   most `closeTimeoutMs` for the broker, then drops the connections.
 */
import type { MessageHandler, ReceivedMessage, Subscription } from '@herald/bus';
import { type KeyedEntry, KeyedFifo } from '@herald/bus/internal';
import {
  Consumer,
  type ConsumerGroupJoinPayload,
  type fetchV17,
  ListOffsetTimestamps,
} from '@platformatic/kafka';
import { subscriptionAwareRoundRobin } from './assigner.ts';
import { Backoff } from './backoff.ts';
import { describeError, hasKafkaError, shouldJoinAgain } from './errors.ts';
import { RETRY_DELAY_MS_FIRST, type ResolvedOptions, WARNING_INTERVAL_MS } from './options.ts';
import { fromRecord } from './records.ts';
import { quietly, settledWithin } from './settled-within.ts';
import { WarningThrottle } from './warning-throttle.ts';

type FetchResponse = fetchV17.FetchResponse;
type FetchedBatch = NonNullable<FetchResponse['responses'][number]['partitions'][number]['records']>[number];

/** `HERALD_KAFKA_DEBUG=1` traces group membership and commits on stderr. */
const DEBUG = process.env.HERALD_KAFKA_DEBUG === '1';

function debug(group: string, topic: string, ...parts: unknown[]): void {
  console.error(`[herald kafka ${new Date().toISOString()}] ${group}@${topic}`, ...parts);
}

/** Batch attribute bit of control batches (transaction markers), which carry no messages. */
const IS_CONTROL = 0x20;

/** A fetched record as a partition's window holds it. */
interface WindowRecord {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  /** 1 on first delivery, +1 per nack. */
  attempt: number;
  /** Non-zero while delivered; changes per delivery so a stale settlement is ignored. */
  token: number;
}

/** The read state of one partition this member owns. */
class PartitionWindow {
  readonly partition: number;
  /** Fetched records not below the commit point; per-key order and the commit point. */
  readonly records: KeyedFifo<WindowRecord>;
  /** Whether the starting position is known (before it, nothing is fetched or committed). */
  started = false;
  /** Offset last committed (or the starting position). */
  committed: bigint | undefined;
  /** False once revoked: settlements of its records then do nothing. */
  owned = true;

  constructor(partition: number, recordsMax: number) {
    this.partition = partition;
    this.records = new KeyedFifo<WindowRecord>({ entriesMax: recordsMax });
  }

  /** Next offset to fetch; undefined until the starting position is known. */
  get nextFetch(): bigint | undefined {
    return this.started ? this.records.nextOffset : undefined;
  }

  /** Sets the starting position (the committed offset, or the log start for a new group). */
  start(offset: bigint): void {
    this.records.reset(offset);
    this.started = true;
    this.committed = offset;
  }

  /** The offset that may be committed: the lowest unfinished record's, or the next to fetch. */
  commitPoint(): bigint | undefined {
    return this.started ? this.records.commitPoint() : undefined;
  }

  /** Forgets every record (revocation). */
  clear(): void {
    this.owned = false;
    this.records.reset();
  }
}

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly options: ResolvedOptions;
  /** Logs a problem the subscription recovers from by itself (the subscription throttles its calls). */
  warn(message: string): void;
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
  readonly #handler: MessageHandler;
  readonly #inFlightMax: number;
  /** The group member: joins, heartbeats, commits. */
  readonly #member: Consumer;
  /** A client of its own for fetches and offset lookups. */
  readonly #fetcher: Consumer;
  #state: State = 'joining';

  /** Whether close() has begun (a method, so narrowing of `#state` across awaits does not apply). */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }
  /** Partitions owned now, by number, and in round-robin order. */
  readonly #windows = new Map<number, PartitionWindow>();
  #order: PartitionWindow[] = [];
  #next = 0;
  /** Generation the current partitions were assigned in. */
  #generation = -1;
  /** Bumped whenever the owned partitions change, so work started before is dropped. */
  #ownership = 0;
  #inFlight = 0;
  #tokens = 0;
  readonly #nackTimers = new Set<NodeJS.Timeout>();
  /** Waiters for the in-flight count to reach zero (a drain). */
  #idleWaiters: (() => void)[] = [];
  /** Wakes the fetch loop when it waits for partitions or room. */
  #wake: (() => void) | undefined;
  #fetchLoop: Promise<void> | undefined;
  #commitLoop: Promise<void> | undefined;
  #commitDirty = false;
  #commitTimer: NodeJS.Timeout | undefined;
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
    this.#inFlightMax = inFlightMax;
    this.#handler = handler;
    const options = this.#options;
    this.#fetchBackoff = new Backoff(RETRY_DELAY_MS_FIRST, options.retryDelayMsMax);
    this.#joinBackoff = new Backoff(RETRY_DELAY_MS_FIRST, options.retryDelayMsMax);
    this.#positionsBackoff = new Backoff(RETRY_DELAY_MS_FIRST, options.retryDelayMsMax);
    this.#warnings = new WarningThrottle((message) => host.warn(message), WARNING_INTERVAL_MS);
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
    this.#member.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => this.#assigned(payload));
    // The client emits 'error' when a rejoin failed for good (e.g. the broker was down through
    // every retry) and then stops heartbeating: join again after a pause.
    this.#member.on('error', (error: unknown) => {
      if (this.#state === 'closed') return;
      this.#warn(`${describeError(error)}; joining again`);
      this.#scheduleRejoin();
    });
    this.#fetcher.on('error', () => {});
    if (DEBUG) {
      const log = (...parts: unknown[]) => debug(group, topic, ...parts);
      this.#member.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) =>
        log('assigned', payload.generationId, JSON.stringify(payload.assignments)),
      );
      this.#member.on('consumer:group:rebalance', () => log('rebalance'));
      this.#member.on('consumer:heartbeat:error', (payload: { error: unknown }) =>
        log('heartbeat error', describeError(payload.error)),
      );
    }
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
    // another member joins meanwhile, fails the first join: join again, backing off, for at most a
    // session timeout (see shouldJoinAgain).
    const deadline = performance.now() + this.#options.sessionTimeoutMs;
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
    if (DEBUG) debug(this.group, this.topic, 'revoking', this.#state, `in flight ${this.#inFlight}`);
    if (this.#state === 'active') {
      this.#state = 'draining';
      const started = performance.now();
      await this.#drained(this.#options.drainTimeoutMs);
      // Bounded: the member must rejoin within its session timeout whatever the broker does.
      const leftMs = Math.max(100, this.#options.drainTimeoutMs - (performance.now() - started));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#commitSoon(),
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
    for (const partition of partitions) {
      this.#windows.set(partition, new PartitionWindow(partition, this.#options.partitionWindowMax));
    }
    this.#order = [...this.#windows.values()];
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
          this.#windows.get(partition)?.start(start);
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
    for (const window of this.#windows.values()) window.clear();
    this.#windows.clear();
    this.#order = [];
    this.#inFlight = 0;
    for (const timer of this.#nackTimers) clearTimeout(timer);
    this.#nackTimers.clear();
    this.#notifyIdle();
  }

  // ---- fetching -------------------------------------------------------------------------------

  async #runFetchLoop(): Promise<void> {
    while (this.#state !== 'closed') {
      const wanted =
        this.#state === 'active'
          ? this.#order.filter((window) => window.nextFetch !== undefined && window.records.hasRoom())
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
          this.#warn(`fetch failed: ${describeError(error)}`);
        }
        await this.#pause(this.#fetchBackoff.next());
        continue;
      }
      this.#fetchBackoff.reset();
      if (ownership !== this.#ownership || this.#isClosed()) continue;
      for (const response of responses) this.#admit(response);
      this.#drain();
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
        const window = this.#windows.get(partition.partitionIndex);
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

  // ---- delivery -------------------------------------------------------------------------------

  /** Hands ready records to the handler, round-robin over partitions, while there is room. */
  #drain(): void {
    if (this.#state !== 'active') return;
    const order = this.#order;
    let idle = 0;
    while (this.#inFlight < this.#inFlightMax && order.length > 0 && idle < order.length) {
      const window = order[this.#next++ % order.length]!;
      const entry = window.records.take();
      if (entry === undefined) {
        idle += 1;
        continue;
      }
      idle = 0;
      this.#deliver(window, entry);
    }
    if (this.#next > 1_000_000_000) this.#next = 0;
  }

  #deliver(window: PartitionWindow, handle: KeyedEntry<WindowRecord>): void {
    const entry = handle.value;
    const token = ++this.#tokens;
    entry.token = token;
    this.#inFlight += 1;
    const current = () => entry.token === token && window.owned && this.#state !== 'closed';
    const message: ReceivedMessage = {
      topic: this.topic,
      partition: window.partition,
      offset: String(handle.offset),
      key: handle.key,
      headers: entry.headers,
      body: entry.body,
      timestampMs: entry.timestampMs,
      deliveryAttempt: entry.attempt,
      ack: async () => {
        if (!current()) return;
        entry.token = 0;
        this.#settled();
        window.records.ack(handle);
        this.#commitLater();
        this.#drain();
        if (window.records.hasRoom()) this.#wake?.();
      },
      nack: async (options) => {
        if (!current()) return;
        entry.token = 0;
        entry.attempt += 1;
        this.#settled();
        const delayMs = Math.min(Math.max(0, options?.delayMs ?? 0), this.#options.nackDelayMsMax);
        if (delayMs === 0) {
          window.records.release(handle, true);
          this.#drain();
          return;
        }
        window.records.release(handle);
        const timer = setTimeout(() => {
          this.#nackTimers.delete(timer);
          if (!window.owned) return;
          window.records.retry(handle);
          this.#drain();
        }, delayMs);
        this.#nackTimers.add(timer);
      },
    };
    // A handler that throws (synchronously or not) gets its message nacked: the subscriber's bug.
    void Promise.resolve()
      .then(() => this.#handler(message))
      .catch(() => message.nack());
  }

  #settled(): void {
    this.#inFlight -= 1;
    if (this.#inFlight === 0) this.#notifyIdle();
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves when nothing is in flight, or after `timeoutMs`. */
  async #drained(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0 || timeoutMs === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  // ---- commits --------------------------------------------------------------------------------

  /**
   * After an ack: commits within `commitIntervalMs` (one OffsetCommit per interval at most, as
   * Kafka's auto-commit; the ack itself is recorded at once). A crash loses at most that interval
   * of commits, which are then redelivered.
   */
  #commitLater(): void {
    if (this.#commitTimer !== undefined) return;
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined;
      void this.#commitSoon();
    }, this.#options.commitIntervalMs);
  }

  /** Commits every owned partition's commit point now; resolves once a commit covering now ran. */
  #commitSoon(): Promise<void> {
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    this.#commitDirty = true;
    this.#commitLoop ??= this.#runCommits().finally(() => {
      this.#commitLoop = undefined;
    });
    return this.#commitLoop;
  }

  async #runCommits(): Promise<void> {
    await Promise.resolve(); // Acks of the same turn share one commit.
    while (this.#commitDirty) {
      this.#commitDirty = false;
      await this.#commitOnce();
    }
  }

  async #commitOnce(): Promise<void> {
    if (this.#state !== 'active' && this.#state !== 'draining') return;
    // Only with the generation the partitions were assigned in: a member that has rejoined since
    // must not commit for partitions that may belong to another member now.
    if (this.#member.generationId !== this.#generation) return;
    const ownership = this.#ownership;
    const offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number }[] = [];
    const windows: [PartitionWindow, bigint][] = [];
    for (const window of this.#order) {
      const point = window.commitPoint();
      if (point === undefined || window.committed === undefined || point <= window.committed) continue;
      offsets.push({ topic: this.topic, partition: window.partition, offset: point, leaderEpoch: -1 });
      windows.push([window, point]);
    }
    if (offsets.length === 0) return;
    if (DEBUG)
      debug(this.group, this.topic, 'commit', offsets.map((o) => `${o.partition}@${o.offset}`).join(' '));
    try {
      await this.#member.commit({ offsets });
      if (DEBUG)
        debug(
          this.group,
          this.topic,
          'committed',
          windows.map(([w, point]) => `${w.partition}@${point}`).join(' '),
        );
      if (ownership !== this.#ownership) return;
      for (const [window, point] of windows) {
        if (window.committed === undefined || point > window.committed) window.committed = point;
      }
    } catch (error) {
      // Not fatal: the acked messages stay uncommitted and may be delivered again (at least once).
      this.#warn(`commit failed: ${describeError(error)}`);
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
   * the broker until `deadlineMs` (a `performance.now()` time; by default `closeTimeoutMs` from now).
   */
  close(deadlineMs: number = performance.now() + this.#options.closeTimeoutMs): Promise<void> {
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
      await settledWithin(this.#commitSoon(), leftMs() / 2);
    }
    this.#state = 'closed';
    clearTimeout(this.#rejoinTimer);
    clearTimeout(this.#commitTimer);
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
        `kafka group ${this.group} on ${this.topic}: the broker did not answer within closeTimeoutMs (${this.#options.closeTimeoutMs} ms) while closing; connections dropped`,
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

/**
 * Adds the records of fetched batches to a partition's window, from its next fetch offset, until
 * the window is full; what does not fit is fetched again later. Control batches only move the
 * next fetch offset past them.
 */
function admitBatches(records: KeyedFifo<WindowRecord>, batches: readonly FetchedBatch[]): void {
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    if ((batch.attributes & IS_CONTROL) === 0) {
      for (const record of batch.records) {
        const offset = batch.firstOffset + BigInt(record.offsetDelta);
        if (offset < records.nextOffset) continue; // A batch starts before the fetch offset.
        if (!records.hasRoom()) return;
        const message = fromRecord(record);
        const timestampMs = Number(batch.firstTimestamp + record.timestampDelta);
        const value = { headers: message.headers, body: message.body, timestampMs, attempt: 1, token: 0 };
        records.enqueue(value, message.key, offset);
      }
    }
    if (lastOffset + 1n > records.nextOffset) records.skipTo(lastOffset + 1n);
  }
}
