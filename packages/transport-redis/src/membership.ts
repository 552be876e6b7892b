/**
 * One member's side of partition ownership (the scripts and the rule are in `leases.ts`): runs the
 * heartbeat, takes over the pending entries of each partition it gains (`XAUTOCLAIM` from whoever
 * held them: the lease says nobody else reads it now), gives up partitions outside its share once
 * their messages in flight are settled, and reports partitions it lost (a lease that expired while
 * this member could not reach Redis).
 */
import type { Redis } from 'ioredis';
import { command } from './connection.ts';
import { leaseKey, membersKey, streamKey } from './keys.ts';
import { HEARTBEAT_SCRIPT, LEAVE_SCRIPT, RELEASE_SCRIPT } from './leases.ts';
import type { ResolvedOptions } from './options.ts';

/** Entries claimed per `XAUTOCLAIM` call. */
const CLAIM_BATCH = 1000;
/** Most `XAUTOCLAIM` calls per takeover: up to 10 million pending entries. */
const CLAIM_CALLS_MAX = 10_000;
/** Stray entries looked at per owned partition and sweep. */
const SWEEP_BATCH = 1000;

/** What the member's subscription does when ownership changes. */
export interface MembershipHost {
  /** `partition` is now this member's, its pending entries claimed: read it from its start. */
  gained(partition: number): void;
  /** `partition` is no longer this member's (lease lost): stop reading it and drop what is queued. */
  lost(partition: number): void;
  /**
   * `partition` must be given up: stop reading it, and resolve once its messages in flight are
   * settled (or the drain deadline passed) and nothing of it is queued any more.
   */
  drain(partition: number): Promise<void>;
}

/** Partition ownership of one subscription. */
export class Membership {
  readonly #options: ResolvedOptions;
  readonly #redis: Redis;
  readonly #topic: string;
  readonly #group: string;
  readonly #memberId: string;
  readonly #host: MembershipHost;
  readonly #keys: string[];
  /** Partitions this member holds and reads (claimed). */
  readonly owned = new Set<number>();
  /** Partitions being given up. */
  readonly #releasing = new Set<number>();
  /** The fair share of the last heartbeat. */
  #share: number[] = [];
  #beating: Promise<void> | undefined;
  #lastSweepMs = Date.now();
  #closed = false;

  constructor(
    options: ResolvedOptions,
    redis: Redis,
    topic: string,
    group: string,
    memberId: string,
    host: MembershipHost,
  ) {
    this.#options = options;
    this.#redis = redis;
    this.#topic = topic;
    this.#group = group;
    this.#memberId = memberId;
    this.#host = host;
    const leases = Array.from({ length: options.partitions }, (_, p) =>
      leaseKey(options.keyPrefix, topic, group, p),
    );
    this.#keys = [membersKey(options.keyPrefix, topic, group), ...leases];
  }

  /** Whether the member holds its whole fair share and gives nothing up. */
  get settled(): boolean {
    return this.#releasing.size === 0 && this.#share.every((partition) => this.owned.has(partition));
  }

  /** One heartbeat; concurrent calls share the running one. Rejects when Redis does not answer. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    if (this.#closed) return;
    const [held, share] = (await command(this.#options, 'the lease heartbeat', () =>
      this.#redis.eval(
        HEARTBEAT_SCRIPT,
        this.#keys.length,
        ...this.#keys,
        this.#memberId,
        this.#options.visibilityTimeoutMs,
      ),
    )) as [number[], number[]];
    if (this.#closed) return;
    this.#share = share;
    const heldSet = new Set(held);
    for (const partition of [...this.owned]) {
      if (!heldSet.has(partition) && !this.#releasing.has(partition)) {
        this.owned.delete(partition);
        this.#host.lost(partition);
      }
    }
    const shareSet = new Set(share);
    for (const partition of held) {
      // A partition being given up is still held until its release script ran: not a gain.
      if (this.#releasing.has(partition)) continue;
      if (!this.owned.has(partition)) {
        await this.#claim(partition);
        if (this.#closed) return;
        this.owned.add(partition);
        this.#host.gained(partition);
      } else if (!shareSet.has(partition)) {
        void this.#release(partition);
      }
    }
    if (Date.now() - this.#lastSweepMs >= this.#options.visibilityTimeoutMs) {
      this.#lastSweepMs = Date.now();
      await this.#sweep();
    }
  }

  /**
   * Once per visibility timeout: entries of an owned partition still pending under another
   * consumer and idle longer than the timeout are strays (read by a member that lost the partition
   * before its read returned, e.g. across a long outage). They are claimed, and the partition is
   * read again from this member's pending entries, so they are delivered.
   */
  async #sweep(): Promise<void> {
    for (const partition of [...this.owned]) {
      if (this.#releasing.has(partition) || this.#closed) continue;
      const stream = streamKey(this.#options.keyPrefix, this.#topic, partition);
      const pending = (await command(this.#options, 'looking for stray pending entries', () =>
        this.#redis.call(
          'XPENDING',
          stream,
          this.#group,
          'IDLE',
          this.#options.visibilityTimeoutMs,
          '-',
          '+',
          SWEEP_BATCH,
        ),
      )) as [string, string, number, number][];
      const strays = pending.filter(([, consumer]) => consumer !== this.#memberId).map(([id]) => id);
      if (strays.length === 0 || !this.owned.has(partition) || this.#closed) continue;
      await command(this.#options, 'claiming stray pending entries', () =>
        this.#redis.call('XCLAIM', stream, this.#group, this.#memberId, 0, ...strays, 'JUSTID'),
      );
      this.#host.lost(partition);
      this.#host.gained(partition);
    }
  }

  /** Moves every pending entry of `partition` in the group to this member. */
  async #claim(partition: number): Promise<void> {
    const stream = streamKey(this.#options.keyPrefix, this.#topic, partition);
    let cursor = '0-0';
    for (let calls = 0; calls < CLAIM_CALLS_MAX; calls++) {
      const reply = (await command(this.#options, 'claiming pending entries', () =>
        this.#redis.call(
          'XAUTOCLAIM',
          stream,
          this.#group,
          this.#memberId,
          0,
          cursor,
          'COUNT',
          CLAIM_BATCH,
          'JUSTID',
        ),
      )) as [string, string[]];
      cursor = reply[0];
      if (cursor === '0-0') return;
    }
  }

  async #release(partition: number): Promise<void> {
    this.#releasing.add(partition);
    try {
      await this.#host.drain(partition);
      this.owned.delete(partition);
      const lease = leaseKey(this.#options.keyPrefix, this.#topic, this.#group, partition);
      await command(this.#options, 'releasing a partition lease', () =>
        this.#redis.eval(RELEASE_SCRIPT, 1, lease, this.#memberId),
      ).catch(() => {}); // Not released: it expires after the visibility timeout instead.
    } finally {
      this.#releasing.delete(partition);
    }
  }

  /** Leaves the group: frees every lease of this member at once. Idempotent. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#beating?.catch(() => {});
    this.owned.clear();
    await command(this.#options, 'leaving the group', () =>
      this.#redis.eval(LEAVE_SCRIPT, this.#keys.length, ...this.#keys, this.#memberId),
    ).catch(() => {}); // Unreachable: the leases expire after the visibility timeout instead.
  }
}
