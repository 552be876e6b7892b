/**
 * The broker under simulation: `openBroker` over the simulated disk (log partitions, topic
 * metadata and the group-position journal), one topic of two partitions, one consumer group whose
 * deliveries the scheduler acks. `check` reads every partition back and compares the group's
 * stored position with the acks.
 */

import { type Broker, openBroker } from '@herald/broker';
import type { ReceivedMessage } from '@herald/bus';
import { decodeRecordBatchRecords, recordBatchSize } from '@herald/log';
import { isCorruption, type SegmentFlip, typedCode, Violation } from './oracle.ts';
import type { SimDisk } from './sim-disk.ts';

/** Data directory of the simulated broker. */
export const BROKER_DIRECTORY = '/sim/broker';
const TOPIC = 'orders';
const GROUP = 'billing';
const PARTITIONS = 2;
/** Most open attempts after a crash. */
const OPEN_ATTEMPTS_MAX = 8;
/** The Kafka-style group whose offsets `commit` steps store (`commitOffsets`). */
const COMMIT_GROUP = 'analytics';
/** Reads of the check retried after a typed I/O error (an injected failure hits one call). */
const READ_RETRIES_MAX = 8;
/** Most deliveries remembered for acking (older ones are redelivered after a restart anyway). */
const DELIVERIES_MAX = 1000;

/** The broker and its model. */
export class BrokerSubject {
  readonly #disk: SimDisk;
  #broker: Broker | undefined;
  /** Incarnation number: deliveries of a dead broker are ignored. */
  #incarnation = 0;
  /** Published and acknowledged bodies. */
  readonly #acked = new Set<string>();
  /** Published without an acknowledgement. */
  readonly #maybe = new Set<string>();
  /** Offsets (`partition:offset`) whose ack resolved, and whose ack was asked for. */
  readonly #ackResolved = new Set<string>();
  readonly #ackAsked = new Set<string>();
  #deliveries: ReceivedMessage[] = [];
  /** Per partition: the last committed offset whose commit resolved, and offsets asked since. */
  readonly #commits = new Map<number, { resolved: bigint | undefined; askedSince: Set<bigint> }>();
  #flips: SegmentFlip[] = [];
  #nextBody = 0;
  /** Set once the broker reported detected corruption. */
  corrupt: string | undefined;
  /** Operations that ended in a typed error. */
  typedErrors = 0;
  lostToFlips = 0;
  /** A publish or ack failed: the broker restarts before the next step, as a supervisor would. */
  failed = false;
  readonly stats = {
    publishes: 0,
    acked: 0,
    failedPublishes: 0,
    acks: 0,
    failedAcks: 0,
    commits: 0,
    failedCommits: 0,
    deliveries: 0,
    opens: 0,
  };

  constructor(disk: SimDisk) {
    this.#disk = disk;
  }

  /** The stable code of `error` (counted), or a Violation for an untyped one. */
  #typed(error: unknown, during: string): string {
    const code = typedCode(error, during);
    this.typedErrors++;
    return code;
  }

  async open(): Promise<void> {
    if (this.corrupt !== undefined) return;
    const incarnation = ++this.#incarnation;
    this.#deliveries = [];
    this.failed = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const broker = await openBroker({
          dir: BROKER_DIRECTORY,
          partitions: PARTITIONS,
          fileSystem: this.#disk.view(),
          segmentBytesMax: 4096,
          visibilityTimeoutMs: 600_000,
        });
        this.#broker = broker;
        await broker.subscribe({ topic: TOPIC, group: GROUP, inFlightMax: 64 }, async (message) => {
          if (incarnation !== this.#incarnation || this.#deliveries.length >= DELIVERIES_MAX) return;
          this.stats.deliveries++;
          this.#deliveries.push(message);
        });
        this.stats.opens++;
        return;
      } catch (error) {
        const code = this.#typed(error, 'opening the broker');
        if (isCorruption(code)) return this.#corruptionFound(error);
        await this.#broker?.close().catch(() => {});
        this.#broker = undefined;
        if (attempt >= OPEN_ATTEMPTS_MAX)
          throw new Violation(`the broker did not open in ${attempt} attempts: ${code}`);
      }
    }
  }

  #corruptionFound(error: unknown): void {
    if (this.#flips.length === 0) {
      throw new Violation(`the broker reports corruption without any bit flip: ${(error as Error).message}`);
    }
    this.corrupt = (error as Error).message;
    this.#broker = undefined;
  }

  flipped(flip: SegmentFlip): void {
    this.#flips.push(flip);
  }

  /**
   * Power loss (call after the disk crashed): the instance is abandoned. Closing it clears its
   * groups' timers; its file-system calls fail without touching the disk.
   */
  abandon(): void {
    this.#incarnation++;
    void this.#broker?.close().catch(() => {});
    this.#broker = undefined;
  }

  async close(): Promise<void> {
    const broker = this.#broker;
    this.#broker = undefined;
    this.#incarnation++;
    await broker?.close().catch((error: unknown) => this.#typed(error, 'closing the broker'));
  }

  /** Publishes `counts.length` publishes concurrently, each of that many keyless messages. */
  async publish(counts: readonly number[]): Promise<void> {
    const broker = this.#broker;
    if (broker === undefined) return;
    await Promise.all(
      counts.map(async (count) => {
        const bodies = Array.from({ length: count }, () => `B${this.#nextBody++}`);
        for (const body of bodies) this.#maybe.add(body);
        this.stats.publishes++;
        try {
          await broker.publish(
            TOPIC,
            bodies.map((body) => ({ headers: {}, body: new TextEncoder().encode(body) })),
          );
          for (const body of bodies) {
            this.#maybe.delete(body);
            this.#acked.add(body);
          }
          this.stats.acked += count;
        } catch (error) {
          this.#typed(error, 'a publish');
          this.stats.failedPublishes++;
          this.failed = true;
        }
      }),
    );
  }

  /** Acks the deliveries picked by `picks` (fractions of the delivered list) concurrently. */
  async ack(picks: readonly number[]): Promise<void> {
    if (this.#broker === undefined || this.#deliveries.length === 0) return;
    const chosen = new Set(
      picks.map((pick) => this.#deliveries[Math.floor(pick * this.#deliveries.length)]!),
    );
    this.#deliveries = this.#deliveries.filter((message) => !chosen.has(message));
    await Promise.all(
      [...chosen].map(async (message) => {
        const key = `${message.partition}:${message.offset}`;
        this.#ackAsked.add(key);
        this.stats.acks++;
        try {
          await message.ack();
          this.#ackResolved.add(key);
        } catch (error) {
          this.#typed(error, 'an ack');
          this.stats.failedAcks++;
          this.failed = true;
        }
      }),
    );
  }

  /** Commits `offsets` (by partition) for the Kafka-style group with `commitOffsets`. */
  async commit(offsets: readonly number[]): Promise<void> {
    const broker = this.#broker;
    if (broker === undefined) return;
    const commits = new Map(
      offsets.slice(0, PARTITIONS).map((offset, partition) => [partition, BigInt(offset)]),
    );
    for (const [partition, offset] of commits) this.#commitState(partition).askedSince.add(offset);
    this.stats.commits++;
    try {
      await broker.commitOffsets(TOPIC, COMMIT_GROUP, commits);
      for (const [partition, offset] of commits)
        this.#commits.set(partition, { resolved: offset, askedSince: new Set() });
    } catch (error) {
      this.#typed(error, 'a commit');
      this.stats.failedCommits++;
      this.failed = true;
    }
  }

  #commitState(partition: number): { resolved: bigint | undefined; askedSince: Set<bigint> } {
    let state = this.#commits.get(partition);
    if (state === undefined) {
      state = { resolved: undefined, askedSince: new Set() };
      this.#commits.set(partition, state);
    }
    return state;
  }

  /** Each committed offset is the last one whose commit resolved, or one asked after it. */
  async #checkCommits(broker: Broker): Promise<void> {
    if (this.#commits.size === 0) return;
    const committed = await broker.committedOffsets(TOPIC, COMMIT_GROUP).catch((error: unknown) => {
      this.#typed(error, 'reading committed offsets');
      return undefined;
    });
    if (committed === undefined) return;
    for (const [partition, { resolved, askedSince }] of this.#commits) {
      const offset = committed.get(partition);
      if (offset !== resolved && (offset === undefined || !askedSince.has(offset))) {
        throw new Violation(
          `${COMMIT_GROUP} has offset ${offset} committed on ${TOPIC}/${partition}; the last acknowledged commit was ${resolved}`,
        );
      }
    }
  }

  /**
   * Reads every partition and checks offsets dense, each acknowledged body stored exactly once,
   * nothing unknown; then the group's stored position: every resolved ack in it, nothing in it
   * that was not acked.
   */
  async check(): Promise<void> {
    const broker = this.#broker;
    if (broker === undefined || this.corrupt !== undefined) return;
    const found = new Set<string>();
    for (let partition = 0; partition < PARTITIONS; partition++) {
      if (!(await this.#checkPartition(broker, partition, found))) return;
    }
    for (const body of this.#acked) {
      if (found.has(body)) continue;
      if (!this.#flips.some((flip) => flip.aboveRecoveryPoint)) {
        throw new Violation(`acknowledged message ${body} is lost`);
      }
      this.#acked.delete(body);
      this.lostToFlips++;
    }
    const flipCut = this.#flips.some((flip) => flip.aboveRecoveryPoint);
    this.#flips = [];
    await this.#checkPositions(broker, flipCut);
    await this.#checkCommits(broker);
  }

  async #checkPartition(broker: Broker, partition: number, found: Set<string>): Promise<boolean> {
    let offset = 0n;
    let retries = 0;
    // Bounded by the high watermark: every read moves `offset` forward or throws.
    for (let reads = 0; reads < 100_000; reads++) {
      let result: Awaited<ReturnType<Broker['readBatches']>>;
      try {
        result = await broker.readBatches(TOPIC, partition, offset, 4096);
      } catch (error) {
        const code = this.#typed(error, `reading ${TOPIC}/${partition} at ${offset}`);
        if (isCorruption(code)) {
          this.#corruptionFound(error);
          return false;
        }
        // An injected failure hits one call: the same read again must work.
        // A broker whose publish or ack failed restarts before the next step and is checked then.
        if (this.failed) return false;
        if (retries++ >= READ_RETRIES_MAX) {
          throw new Violation(`reading ${TOPIC}/${partition} at ${offset} failed with ${code}`);
        }
        continue;
      }
      if (result.batchCount === 0) return true;
      for (let at = 0; at < result.batches.byteLength; at += recordBatchSize(result.batches, at)) {
        for (const record of decodeRecordBatchRecords(result.batches, at)) {
          if (record.offset < offset) continue;
          if (record.offset !== offset)
            throw new Violation(`${TOPIC}/${partition}: offset ${record.offset} after ${offset - 1n}`);
          const body = new TextDecoder().decode(record.value ?? new Uint8Array());
          if (!this.#acked.has(body) && !this.#maybe.has(body))
            throw new Violation(`${body} was never published`);
          if (found.has(body)) throw new Violation(`${body} is stored twice`);
          found.add(body);
          offset++;
        }
      }
    }
    throw new Violation(`${TOPIC}/${partition} did not end within 100000 reads`);
  }

  async #checkPositions(broker: Broker, flipCut: boolean): Promise<void> {
    const description = await broker.describeGroup(TOPIC, GROUP).catch((error: unknown) => {
      this.#typed(error, 'describing the group');
      return undefined;
    });
    if (description === undefined) return;
    for (const { partition, committed, ackedAhead } of description.partitions) {
      const stored = new Set(ackedAhead.map((offset) => `${partition}:${offset}`));
      for (let offset = 0n; offset < committed; offset++) stored.add(`${partition}:${offset}`);
      for (const key of stored) {
        if (!this.#ackAsked.has(key))
          throw new Violation(`group position claims ${key} acked, which no consumer acked`);
      }
      for (const key of this.#ackResolved) {
        if (key.startsWith(`${partition}:`) && !stored.has(key)) {
          // Records a flip above the recovery point cut off take their acks with them.
          if (flipCut) {
            this.#ackResolved.delete(key);
            continue;
          }
          throw new Violation(`the acknowledged ack of ${key} is not in the group's stored position`);
        }
      }
    }
  }
}
