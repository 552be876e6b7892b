/**
 * Partition ownership within one consumer group: each member (one subscription) holds a lease per
 * partition it reads, in a JetStream key-value bucket whose TTL is the lease. Members heartbeat a
 * key of their own; every member lists the live members and computes the same assignment
 * (partition p → the (p mod n)-th member in id order), takes its free partitions with a
 * compare-and-set `create`, renews them with `update` at the revision it holds, and hands over the
 * ones now assigned elsewhere (after its running handlers finish, see `handoverMsMax`). A member
 * that stops renewing (kill -9) loses its keys to the TTL, and the others take its partitions.
 *
 * So each partition has at most one reader at a time, except in the window after a lease expired
 * under a member that is alive but stalled (a paused process, a server outage longer than the
 * lease): it finds out at its next renewal and stops. The README states that limit.
 *
 * Bounds: one timer (a tick every `leaseMs / 3`, or sooner when another member announces a
 * change on the group's rebalance subject), one key-value request per owned partition per tick.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { GroupKeys } from './names.ts';

/** What the leases drive: the partition readers of one member. */
export interface LeaseHolder {
  /** The member now holds `partition`: start reading it. */
  acquired(partition: number): void;
  /** `partition` goes to another member: stop reading, wait for running handlers, return the rest. */
  handOver(partition: number): Promise<void>;
  /** The lease of `partition` was lost (expired and taken): stop reading at once. */
  lost(partition: number): void;
}

/** How much longer than a lease a joining member waits for its share. */
const JOIN_MARGIN_MS = 2_000;
/** How often a joining member checks whether it holds its share. */
const JOIN_POLL_MS = 20;

/** Revision of a key-value update that failed because someone else changed the key. */
function isConflict(error: unknown): boolean {
  return /wrong last sequence|key exists|wrong last msg/i.test(String((error as Error)?.message ?? error));
}

/** The leases of one member. */
export class PartitionLeases {
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  readonly #keys: GroupKeys;
  readonly #memberId: string;
  readonly #partitions: number;
  readonly #tickMs: number;
  readonly #holder: LeaseHolder;
  /** Owned partitions and the revision of their lease key. */
  readonly #owned = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #notifications: NatsSubscription | undefined;
  #ticking: Promise<void> | undefined;
  #tickAgain = false;
  #stopped = false;
  /** Owned partitions being handed over (their reader drains); the lease is renewed meanwhile. */
  readonly #releasing = new Map<number, symbol>();
  /** Partitions whose handover finished: the next round deletes their lease. */
  readonly #handedOver = new Set<number>();
  /** The partitions the last round assigned to this member. */
  #wanted = new Set<number>();
  readonly #leaseMs: number;

  constructor(
    kv: KV,
    nc: NatsConnection,
    keys: GroupKeys,
    memberId: string,
    partitions: number,
    leaseMs: number,
    holder: LeaseHolder,
  ) {
    this.#kv = kv;
    this.#nc = nc;
    this.#keys = keys;
    this.#memberId = memberId;
    this.#partitions = partitions;
    this.#leaseMs = leaseMs;
    this.#tickMs = Math.max(250, Math.floor(leaseMs / 3));
    this.#holder = holder;
  }

  /** Partitions held now. */
  get owned(): readonly number[] {
    return [...this.#owned.keys()];
  }

  /**
   * Joins the group: registers the member, takes what is free, tells the others, and waits (at
   * most `leaseMs` + {@link JOIN_MARGIN_MS}) until the members that held its share handed it over,
   * so messages published once `subscribe` resolved are shared with this member.
   */
  async start(): Promise<void> {
    this.#notifications = this.#nc.subscribe(this.#keys.rebalanceSubject, {
      callback: (_error, message) => {
        if (message.string() !== this.#memberId) this.poke();
      },
    });
    await this.#kv.put(this.#keys.member(this.#memberId), String(Date.now()));
    await this.tick();
    this.#announce();
    this.#schedule();
    const deadlineMs = Date.now() + this.#leaseMs + JOIN_MARGIN_MS;
    while (!this.#stopped && Date.now() < deadlineMs && [...this.#wanted].some((p) => !this.#owned.has(p))) {
      await new Promise((resolve) => setTimeout(resolve, JOIN_POLL_MS));
    }
  }

  /** Runs a tick soon (another member joined, left or released a partition). */
  poke(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), 0);
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), this.#tickMs);
  }

  #run(): void {
    void this.tick()
      .catch(() => {
        // A server outage or timeout: the next tick tries again; the leases hold until they expire.
      })
      .finally(() => this.#schedule());
  }

  /** One round: heartbeat, list members, renew, hand over and take partitions. Never concurrent. */
  tick(): Promise<void> {
    if (this.#ticking !== undefined) {
      this.#tickAgain = true;
      return this.#ticking;
    }
    this.#ticking = (async () => {
      try {
        do {
          this.#tickAgain = false;
          await this.#round();
        } while (this.#tickAgain && !this.#stopped);
      } finally {
        this.#ticking = undefined;
      }
    })();
    return this.#ticking;
  }

  async #round(): Promise<void> {
    if (this.#stopped) return;
    await this.#kv.put(this.#keys.member(this.#memberId), String(Date.now()));
    const members: string[] = [];
    for await (const key of await this.#kv.keys(`${this.#keys.memberPrefix}*`)) {
      members.push(key.slice(this.#keys.memberPrefix.length));
    }
    if (!members.includes(this.#memberId)) members.push(this.#memberId);
    members.sort();
    const mine = members.indexOf(this.#memberId);
    const wanted = (partition: number) => partition % members.length === mine;
    this.#wanted = new Set(Array.from({ length: this.#partitions }, (_, p) => p).filter(wanted));
    let released = false;
    // Partitions whose reader finished handing over: give the lease up (at the revision held).
    for (const partition of this.#handedOver) {
      const revision = this.#owned.get(partition);
      this.#handedOver.delete(partition);
      this.#releasing.delete(partition);
      if (revision === undefined) continue;
      this.#owned.delete(partition);
      await this.#kv.delete(this.#keys.partition(partition), { previousSeq: revision }).catch(() => {
        // Already expired or taken: nothing of ours left to delete.
      });
      released = true;
    }
    for (const [partition, revision] of [...this.#owned]) {
      if (this.#stopped) return;
      // A handover runs beside the rounds (it waits for handlers), and the lease is renewed
      // meanwhile, so no other member reads the partition before this one stopped.
      if (!wanted(partition) && !this.#releasing.has(partition)) {
        const handover = Symbol('handover');
        this.#releasing.set(partition, handover);
        void this.#holder.handOver(partition).finally(() => {
          // Unless the lease was lost (and maybe taken again) meanwhile.
          if (this.#releasing.get(partition) !== handover) return;
          this.#handedOver.add(partition);
          this.poke();
        });
      }
      try {
        this.#owned.set(
          partition,
          await this.#kv.update(this.#keys.partition(partition), this.#memberId, revision),
        );
      } catch (error) {
        if (!isConflict(error)) throw error;
        this.#owned.delete(partition);
        this.#releasing.delete(partition);
        this.#holder.lost(partition);
      }
    }
    for (let partition = 0; partition < this.#partitions; partition++) {
      if (this.#stopped) return;
      if (!wanted(partition) || this.#owned.has(partition) || this.#releasing.has(partition)) continue;
      try {
        const revision = await this.#kv.create(this.#keys.partition(partition), this.#memberId);
        if (this.#stopped) {
          await this.#kv.delete(this.#keys.partition(partition), { previousSeq: revision }).catch(() => {});
          return;
        }
        this.#owned.set(partition, revision);
        this.#holder.acquired(partition);
      } catch (error) {
        // Held by another member, which hands it over on its next tick.
        if (!isConflict(error)) throw error;
      }
    }
    if (released) this.#announce();
  }

  async #release(partition: number, revision: number): Promise<void> {
    this.#owned.delete(partition);
    await this.#holder.handOver(partition);
    await this.#kv.delete(this.#keys.partition(partition), { previousSeq: revision }).catch(() => {
      // Already expired or taken: nothing of ours left to delete.
    });
  }

  #announce(): void {
    try {
      this.#nc.publish(this.#keys.rebalanceSubject, this.#memberId);
    } catch {
      // Disconnected: the others notice at their next tick.
    }
  }

  /**
   * Leaves the group: hands every partition over (the holder returns their messages), deletes
   * the leases and the member key, and tells the others so they take over at once.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#ticking?.catch(() => {});
    this.#notifications?.unsubscribe();
    for (const [partition, revision] of [...this.#owned]) {
      await this.#release(partition, revision).catch(() => {});
    }
    await this.#kv.delete(this.#keys.member(this.#memberId)).catch(() => {});
    this.#announce();
  }
}
