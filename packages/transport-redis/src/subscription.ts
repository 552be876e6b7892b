/**
 * One subscription: a member of a consumer group that reads the partitions it owns (see
 * `membership.ts`) with `XREADGROUP` on a connection of its own, and delivers through the bus's
 * `KeyedFifo` (one window per partition, in stream order) and `DeliveryWindow`: a message goes to
 * the handler once every earlier message of its key is acked, up to `inFlightMax` at a time. An ack
 * is an `XACK`; a nack holds the message in the process for its delay (at most `holdDelayMsMax`),
 * its key blocked, while it stays pending in Redis, so a crash returns it to the group.
 *
 * Reading: a partition just gained (or read again after a lost connection) first yields this
 * member's pending entries (`XREADGROUP … <id>`: the history, including entries claimed from a
 * previous owner), then new ones (`XREADGROUP … >`, blocking up to `blockMs` over all its
 * partitions at once). A change that the blocked read must see (a partition gained or given up,
 * room again in a full window) ends it early with `CLIENT UNBLOCK`.
 *
 * After the reader's connection failed, the subscription starts a new *incarnation*: new windows,
 * every partition read again from its history. Deliveries of the old one become stale (their ack
 * and nack do nothing; the entries are still pending, and the new incarnation delivers them again).
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { MessageHandler, SubscribeOptions, Subscription } from '@herald/bus';
import { Delivered, DeliveryWindow, KeyedFifo, type PendingEntry } from '@herald/bus/internal';
import type { Redis } from 'ioredis';
import { AckBatcher } from './acks.ts';
import { type Connection, command, openConnection } from './connection.ts';
import { decodeEntry, type StoredMessage } from './entries.ts';
import { offsetOfId, streamKey } from './keys.ts';
import { Membership } from './membership.ts';
import type { ResolvedOptions } from './options.ts';

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly options: ResolvedOptions;
  /** The command connection (acks, leases, group creation). */
  readonly redis: Redis;
  /** Checks the topic's partition count and creates the group on every partition. */
  prepareGroup(topic: string, group: string): Promise<void>;
  /** The subscription closed. */
  forget(subscription: GroupSubscription): void;
}

/** One stream entry waiting for, or in, delivery. */
interface Pending extends PendingEntry {
  readonly key: string | undefined;
  readonly id: string;
  readonly partition: number;
  readonly message: StoredMessage;
}

/** Reading state of one owned partition in one incarnation. */
interface PartitionState {
  readonly partition: number;
  readonly stream: string;
  readonly window: KeyedFifo<Pending>;
  /** Highest entry id taken in (`0-0` before the first): history reads continue after it. */
  lastId: string;
  /** Whether this member's pending entries must be read before new ones. */
  history: boolean;
  /** Being given up: not read any more. */
  releasing: boolean;
}

interface Incarnation {
  readonly delivery: DeliveryWindow<Pending>;
  readonly partitions: Map<number, PartitionState>;
  windows: KeyedFifo<Pending>[];
}

/** A live subscription of one group member. */
export class GroupSubscription implements Subscription {
  readonly #host: SubscriptionHost;
  readonly #options: ResolvedOptions;
  readonly #subscribe: SubscribeOptions;
  readonly #handler: MessageHandler;
  readonly #memberId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly #membership: Membership;
  readonly #streamPartition = new Map<string, number>();
  /** One `XACK` per stream and event-loop turn, bounded by the command deadline. */
  readonly #acks = new AckBatcher((stream, ids) =>
    command(this.#options, 'XACK', () =>
      this.#host.redis.call('XACK', stream, this.#subscribe.group, ...ids),
    ),
  );
  #incarnation: Incarnation;
  #reader: Connection | undefined;
  #readerId: number | undefined;
  /** Partitions the read in progress covers; undefined while none blocks. */
  #reading: Set<number> | undefined;
  #readDone: Promise<void> = Promise.resolve();
  /** Counts reads, so an unblock targets the read it was meant for. */
  #readNumber = 0;
  /** The read an unblocker is working on. */
  #unblocking = -1;
  /** Set when the reader reconnected: start a new incarnation once the read in progress returned. */
  #reincarnateAfterRead = false;
  #wake: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(host: SubscriptionHost, options: SubscribeOptions, handler: MessageHandler) {
    this.#host = host;
    this.#options = host.options;
    this.#subscribe = options;
    this.#handler = handler;
    for (let partition = 0; partition < this.#options.partitions; partition++) {
      this.#streamPartition.set(streamKey(this.#options.keyPrefix, options.topic, partition), partition);
    }
    this.#membership = new Membership(
      this.#options,
      host.redis,
      options.topic,
      options.group,
      this.#memberId,
      {
        gained: (partition) => this.#gained(partition),
        lost: (partition) => this.#drop(partition),
        drain: (partition) => this.#drain(partition),
      },
    );
    this.#incarnation = this.#incarnate();
  }

  /** Joins the group and starts reading; resolves once the member holds its share (bounded wait). */
  async start(): Promise<void> {
    try {
      await this.#host.prepareGroup(this.#subscribe.topic, this.#subscribe.group);
      this.#reader = await openConnection(this.#options, 'reader');
      this.#reader.redis.on('ready', () => this.#readerReady());
      this.#readerId = (await this.#reader.redis.client('ID')) as number;
      await this.#membership.beat();
      // Wait (bounded) for the members that own our share to give it up, so what is published
      // after subscribe() resolves is shared as the group will share it.
      const deadlineMs = Date.now() + this.#options.rebalanceWaitMsMax;
      while (!this.#membership.settled && Date.now() < deadlineMs && !this.#closed) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(25, this.#options.heartbeatMs)));
        await this.#membership.beat().catch(() => {});
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#scheduleHeartbeat();
    void this.#readLoop();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#heartbeat);
    this.#host.forget(this);
    closeIncarnation(this.#incarnation);
    this.#wake?.();
    // Dropping the reader's connection ends its blocked read at once (the read rejects).
    this.#reader?.redis.disconnect();
    await this.#readDone;
    await this.#membership.leave();
  }

  #incarnate(): Incarnation {
    const { topic } = this.#subscribe;
    const incarnation: Incarnation = {
      partitions: new Map(),
      windows: [],
      delivery: new DeliveryWindow<Pending>({
        windows: () => incarnation.windows,
        message: (pending, attempt, hold) =>
          new Delivered(
            topic,
            pending.partition,
            pending.id,
            pending.key,
            pending.message.headers,
            pending.message.body,
            Number(pending.id.slice(0, pending.id.indexOf('-'))),
            attempt,
            hold,
          ),
        onAck: ({ value }) => this.#ack(value),
        nackDelayMsMax: this.#options.holdDelayMsMax,
      }),
    };
    incarnation.delivery.join(this.#handler, this.#subscribe.inFlightMax);
    return incarnation;
  }

  #ack(pending: Pending): Promise<void> {
    // The partition's window just drained to the read threshold: an idle read loop looks again,
    // and a blocked read that left the partition out ends early to take it in.
    const state = this.#incarnation.partitions.get(pending.partition);
    if (state !== undefined && this.#room(state) === this.#readRoomMin()) {
      this.#wake?.();
      if (this.#reading !== undefined && !this.#reading.has(pending.partition)) void this.#unblock();
    }
    return this.#acks.ack(
      streamKey(this.#options.keyPrefix, this.#subscribe.topic, pending.partition),
      pending.id,
    );
  }

  /** Entries the partition's window may still take in. */
  #room(state: PartitionState): number {
    return this.#subscribe.inFlightMax - state.window.unsettledCount;
  }

  /**
   * Least room a window must have to be read: half of it. Reading a partition as soon as one
   * entry was acked would fetch one entry per round trip under load; waiting for half keeps reads
   * batched while the other half is still being handled.
   */
  #readRoomMin(): number {
    return Math.ceil(this.#subscribe.inFlightMax / 2);
  }

  #gained(partition: number): void {
    this.#addPartition(this.#incarnation, partition);
    this.#poke();
  }

  #addPartition(incarnation: Incarnation, partition: number): void {
    const state: PartitionState = {
      partition,
      stream: streamKey(this.#options.keyPrefix, this.#subscribe.topic, partition),
      // What may be read ahead per partition: its entries not yet acked.
      window: new KeyedFifo<Pending>({ entriesMax: this.#subscribe.inFlightMax, counting: 'unsettled' }),
      lastId: '0-0',
      history: true,
      releasing: false,
    };
    incarnation.partitions.set(partition, state);
    incarnation.windows = [...incarnation.partitions.values()].map((each) => each.window);
  }

  /** Forgets a partition: what was queued or in flight is stale; Redis keeps it pending. */
  #drop(partition: number): void {
    const incarnation = this.#incarnation;
    const state = incarnation.partitions.get(partition);
    if (state === undefined) return;
    incarnation.partitions.delete(partition);
    incarnation.windows = [...incarnation.partitions.values()].map((each) => each.window);
    state.window.reset();
    this.#poke();
  }

  async #drain(partition: number): Promise<void> {
    const state = this.#incarnation.partitions.get(partition);
    if (state !== undefined) state.releasing = true;
    // The blocked read may cover the partition: end it, so nothing more of it is read.
    while (this.#reading?.has(partition)) {
      await this.#unblock();
      await this.#readDone;
    }
    const deadlineMs = Date.now() + this.#options.drainTimeoutMsMax;
    while (
      state !== undefined &&
      state.window.unsettledCount > 0 &&
      Date.now() < deadlineMs &&
      !this.#closed
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.#drop(partition);
  }

  #scheduleHeartbeat(): void {
    if (this.#closed) return;
    this.#heartbeat = setTimeout(() => {
      // A failed beat is retried at the next interval; leases outlive several missed beats.
      this.#membership
        .beat()
        .catch(() => {})
        .finally(() => this.#scheduleHeartbeat());
    }, this.#options.heartbeatMs);
  }

  /** Wakes an idle read loop and ends a blocked read when it covers the wrong partitions. */
  #poke(): void {
    this.#wake?.();
    if (this.#reading !== undefined) void this.#unblock();
  }

  /**
   * Ends the read in progress if it blocks. A read that returns data comes back within a moment, so
   * the first `CLIENT UNBLOCK` waits `UNBLOCK_RETRY_MS`: under load reads rarely block, and no
   * command is spent on them. `CLIENT UNBLOCK` goes over the command connection and may also reach
   * the server before the read does (then it unblocks nothing): it is sent again, briefly, until
   * the read is unblocked or has returned. One unblocker per read.
   */
  async #unblock(): Promise<void> {
    const read = this.#readNumber;
    if (this.#reading === undefined || this.#unblocking === read) return;
    this.#unblocking = read;
    for (let tries = 0; tries < UNBLOCK_TRIES_MAX; tries++) {
      await new Promise((resolve) => setTimeout(resolve, UNBLOCK_RETRY_MS));
      if (this.#reading === undefined || this.#readNumber !== read || this.#readerId === undefined) return;
      const readerId = this.#readerId;
      const unblocked = await command(this.#options, 'CLIENT UNBLOCK', () =>
        this.#host.redis.client('UNBLOCK', readerId),
      ).catch(() => 0);
      if (unblocked === 1) return;
    }
  }

  /** The reader reconnected: replies may have been lost, so every partition is read again. */
  #readerReady(): void {
    const reader = this.#reader;
    if (reader === undefined || this.#closed || this.#readerId === undefined) return;
    this.#reincarnateAfterRead = true;
    reader.redis.client('ID').then(
      (id) => {
        this.#readerId = id as number;
        // The read re-sent after reconnecting would block for blockMs: end it now.
        this.#unblocking = -1;
        void this.#unblock();
      },
      () => {},
    );
  }

  async #readLoop(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      const incarnation = this.#incarnation;
      const readable = [...incarnation.partitions.values()].filter(
        (state) => !state.releasing && this.#room(state) >= this.#readRoomMin(),
      );
      if (readable.length === 0) {
        await this.#idle(this.#options.blockMs);
        continue;
      }
      const history = readable.filter((state) => state.history);
      const reading =
        history.length > 0 ? this.#readHistory(incarnation, history) : this.#readNew(incarnation, readable);
      this.#readDone = reading.then(
        () => {},
        () => {},
      );
      try {
        await reading;
        failures = 0;
        if (this.#reincarnateAfterRead) this.#reincarnate();
      } catch {
        if (this.#closed) break;
        failures += 1;
        await this.#idle(
          Math.min(
            this.#options.reconnectDelayMsMax,
            this.#options.reconnectDelayMsMin * 2 ** Math.min(failures, 20),
          ),
        );
        this.#reincarnate();
      }
    }
  }

  /** After a failed read: new windows, every owned partition read again from its history. */
  #reincarnate(): void {
    this.#reincarnateAfterRead = false;
    if (this.#closed) return;
    closeIncarnation(this.#incarnation);
    const next = this.#incarnate();
    for (const partition of this.#membership.owned) this.#addPartition(next, partition);
    this.#incarnation = next;
  }

  #idle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.#wake === done) self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  async #readNew(incarnation: Incarnation, states: PartitionState[]): Promise<void> {
    const count = Math.max(1, Math.min(...states.map((state) => this.#room(state))));
    this.#reading = new Set(states.map((state) => state.partition));
    this.#readNumber += 1;
    try {
      const reply = (await this.#reader!.redis.callBuffer(
        'XREADGROUP',
        'GROUP',
        this.#subscribe.group,
        this.#memberId,
        'COUNT',
        count,
        'BLOCK',
        this.#options.blockMs,
        'STREAMS',
        ...states.map((state) => state.stream),
        ...states.map(() => '>'),
      )) as StreamReply;
      this.#takeIn(incarnation, reply, undefined);
    } finally {
      this.#reading = undefined;
    }
  }

  /** Reads this member's pending entries of `states` after their last id, with their delivery counts. */
  async #readHistory(incarnation: Incarnation, states: PartitionState[]): Promise<void> {
    for (const state of states) {
      const count = Math.max(1, this.#room(state));
      const reply = (await this.#reader!.redis.callBuffer(
        'XREADGROUP',
        'GROUP',
        this.#subscribe.group,
        this.#memberId,
        'COUNT',
        count,
        'STREAMS',
        state.stream,
        state.lastId,
      )) as StreamReply;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) {
        state.history = false;
        continue;
      }
      const first = entries[0]![0].toString();
      const last = entries[entries.length - 1]![0].toString();
      const pending = (await this.#reader!.redis.call(
        'XPENDING',
        state.stream,
        this.#subscribe.group,
        first,
        last,
        entries.length,
        this.#memberId,
      )) as [string, string, number, number][];
      const deliveries = new Map(pending.map(([id, , , times]) => [id, times]));
      this.#takeIn(incarnation, reply, deliveries);
    }
  }

  /** Queues the entries of a read in their partitions' windows and delivers what may go. */
  #takeIn(incarnation: Incarnation, reply: StreamReply, deliveries: Map<string, number> | undefined): void {
    if (reply === null || incarnation !== this.#incarnation || this.#closed) return;
    for (const [streamName, entries] of reply) {
      const partition = this.#streamPartition.get(streamName.toString());
      const state = partition === undefined ? undefined : incarnation.partitions.get(partition);
      // Not ours any more (lost meanwhile): the entries stay pending for the next owner's claim.
      if (state === undefined) continue;
      for (const [idBuffer, fields] of entries) {
        const id = idBuffer.toString();
        state.lastId = id;
        const message = decodeEntry(fields);
        const offset = offsetOfId(id);
        if (message === undefined) {
          // Trimmed while pending (fields null), or not a Herald entry: nothing to deliver.
          void this.#host.redis.call('XACK', state.stream, this.#subscribe.group, id).catch(() => {});
          continue;
        }
        if (offset < state.window.nextOffset) continue; // Already queued in this incarnation.
        const attempt = Math.max(1, deliveries?.get(id) ?? 1);
        const sizeBytes = message.body.byteLength;
        state.window.enqueue(
          { attempt, key: message.key, id, partition: state.partition, message },
          message.key,
          offset,
          sizeBytes,
        );
      }
    }
    incarnation.delivery.pump();
  }
}

/** Attempts to unblock one read, `UNBLOCK_RETRY_MS` apart: the read has returned long before. */
const UNBLOCK_TRIES_MAX = 200;
const UNBLOCK_RETRY_MS = 1;

/** `XREADGROUP`'s reply read as Buffers: per stream, its entries as [id, field/value list]. */
type StreamReply = [Buffer, [Buffer, Buffer[] | null][]][] | null;

function closeIncarnation(incarnation: Incarnation): void {
  incarnation.delivery.close();
  for (const state of incarnation.partitions.values()) state.window.reset();
}
