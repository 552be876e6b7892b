/**
 * Commits of one Kafka subscription: each owned partition's commit point (its lowest unfinished
 * offset) goes to the group in an OffsetCommit, coalesced — at most one in flight per member, and
 * after acks at most one per `commitIntervalMs` (as Kafka's auto-commit; a crash loses at most
 * that interval of commits, whose messages are then redelivered). A commit goes out only with the
 * generation the partitions were assigned in, so a member that has rejoined since never commits
 * for partitions another member may own now.
 */
import type { Consumer } from '@platformatic/kafka';
import { DEBUG, debug } from './debug.ts';
import { describeError } from './errors.ts';
import type { PartitionWindow } from './partition-window.ts';

/** What commits need from their subscription. */
export interface CommitHost {
  readonly topic: string;
  readonly group: string;
  /** The group member, whose generation and connection commits use. */
  readonly member: Consumer;
  /** Longest time between an ack and the commit that covers it. */
  readonly commitIntervalMs: number;
  /** Whether the member may commit now: it is active or draining, not joining or closed. */
  mayCommit(): boolean;
  /** The generation the owned partitions were assigned in. */
  generation(): number;
  /** Bumped whenever the owned partitions change, so a commit answered after that is not recorded. */
  ownership(): number;
  /** The owned partitions' windows. */
  windows(): readonly PartitionWindow[];
  /** Reports a failure the subscription recovers from (throttled by the subscription). */
  warn(problem: string): void;
}

/** Coalesced OffsetCommits of one subscription. */
export class OffsetCommitter {
  readonly #host: CommitHost;
  #loop: Promise<void> | undefined;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(host: CommitHost) {
    this.#host = host;
  }

  /** After an ack: commits within `commitIntervalMs` (the ack itself is recorded at once). */
  later(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.soon();
    }, this.#host.commitIntervalMs);
  }

  /** Commits every owned partition's commit point now; resolves once a commit covering now ran. */
  soon(): Promise<void> {
    this.stopTimer();
    this.#dirty = true;
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
    });
    return this.#loop;
  }

  /** Cancels a commit scheduled by {@link later} (on close). */
  stopTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #run(): Promise<void> {
    await Promise.resolve(); // Acks of the same turn share one commit.
    while (this.#dirty) {
      this.#dirty = false;
      await this.#commitOnce();
    }
  }

  async #commitOnce(): Promise<void> {
    const host = this.#host;
    if (!host.mayCommit()) return;
    // Only with the generation the partitions were assigned in: a member that has rejoined since
    // must not commit for partitions that may belong to another member now.
    if (host.member.generationId !== host.generation()) return;
    const ownership = host.ownership();
    const offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number }[] = [];
    const windows: [PartitionWindow, bigint][] = [];
    for (const window of host.windows()) {
      const point = window.commitPoint();
      if (point === undefined || window.committed === undefined || point <= window.committed) continue;
      offsets.push({ topic: host.topic, partition: window.partition, offset: point, leaderEpoch: -1 });
      windows.push([window, point]);
    }
    if (offsets.length === 0) return;
    if (DEBUG)
      debug(host.group, host.topic, 'commit', offsets.map((o) => `${o.partition}@${o.offset}`).join(' '));
    try {
      await host.member.commit({ offsets });
      if (DEBUG)
        debug(
          host.group,
          host.topic,
          'committed',
          windows.map(([w, point]) => `${w.partition}@${point}`).join(' '),
        );
      if (ownership !== host.ownership()) return;
      for (const [window, point] of windows) {
        if (window.committed === undefined || point > window.committed) window.committed = point;
      }
    } catch (error) {
      // Not fatal: the acked messages stay uncommitted and may be delivered again (at least once).
      host.warn(`commit failed: ${describeError(error)}`);
    }
  }
}
