/**
 * One subscription: one member of a consumer group. It holds leases on some partitions of the
 * topic (see `leases.ts`), reads each with a {@link PartitionReader}, and hands ready messages to
 * its handler, at most `inFlightMax` at a time, taking one from each partition in turn.
 */
import { randomUUID } from 'node:crypto';
import type { MessageHandler, ReceivedMessage, SubscribeOptions, Subscription } from '@herald/bus';
import type { KeyedEntry } from '@herald/bus/internal';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { type LeaseHolder, PartitionLeases } from './leases.ts';
import { consumerName, groupKeys } from './names.ts';
import type { ResolvedOptions } from './options.ts';
import { PartitionReader, type PendingMessage, type ReaderHost } from './partition-reader.ts';

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly options: ResolvedOptions;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  /** The subscription closed. */
  forget(subscription: GroupSubscription): void;
  /** JetStream confirmed an ack (the transport's close waits for the server to store it). */
  acked(): void;
}

/** A live subscription of one group member. */
export class GroupSubscription implements Subscription, LeaseHolder, ReaderHost {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly ackPendingMax: number;
  readonly ackWaitMs: number;
  readonly reconnectDelayMs: number;
  readonly #host: SubscriptionHost;
  readonly #options: SubscribeOptions;
  readonly #handler: MessageHandler;
  readonly #leases: PartitionLeases;
  readonly #readers = new Map<number, PartitionReader>();
  /** Messages handed to the handler and not settled, per reader. */
  readonly #taken = new Map<PartitionReader, number>();
  readonly #drained = new Set<() => void>();
  #inFlight = 0;
  #nextReader = 0;
  #pumpScheduled = false;
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(
    host: SubscriptionHost,
    kv: KV,
    stream: string,
    options: SubscribeOptions,
    handler: MessageHandler,
  ) {
    this.#host = host;
    this.js = host.js;
    this.stream = stream;
    this.ackPendingMax = host.options.ackPendingMax;
    this.ackWaitMs = host.options.ackWaitMs;
    this.reconnectDelayMs = host.options.reconnectDelayMs;
    this.#options = options;
    this.#handler = handler;
    const keys = groupKeys(host.options.prefix, stream, options.group);
    this.#leases = new PartitionLeases(
      kv,
      host.nc,
      keys,
      randomUUID().replaceAll('-', ''),
      host.options.partitions,
      host.options.leaseMs,
      this,
    );
  }

  /** Joins the group and takes this member's share of the partitions. */
  start(): Promise<void> {
    return this.#leases.start();
  }

  /** Partitions this member reads now. */
  get partitions(): readonly number[] {
    return this.#leases.owned;
  }

  acquired(partition: number): void {
    if (this.#closed) return;
    const reader = new PartitionReader(this, partition, consumerName(this.#options.group, partition));
    this.#readers.set(partition, reader);
    this.#taken.set(reader, 0);
    reader.start();
  }

  async handOver(partition: number): Promise<void> {
    const reader = this.#readers.get(partition);
    if (reader === undefined) return;
    reader.stopPulling();
    // Running handlers finish first, so the next reader does not process a key beside them.
    const deadlineMs = Date.now() + this.#host.options.handoverMsMax;
    while ((this.#taken.get(reader) ?? 0) > 0 && Date.now() < deadlineMs && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, deadlineMs - Date.now()));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#drained.add(done);
      });
    }
    // The last pull's stragglers are nacked as they come; then nothing more arrives for this reader.
    await reader.pullEnded();
    this.#drop(reader);
  }

  lost(partition: number): void {
    const reader = this.#readers.get(partition);
    if (reader !== undefined) this.#drop(reader);
  }

  #drop(reader: PartitionReader): void {
    reader.returnAll();
    this.#inFlight -= this.#taken.get(reader) ?? 0;
    this.#taken.delete(reader);
    if (this.#readers.get(reader.partition) === reader) this.#readers.delete(reader.partition);
    this.ready();
  }

  /** A message became ready, or room appeared: deliver after the current burst of arrivals. */
  ready(): void {
    if (this.#pumpScheduled || this.#closed) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const readers = [...this.#readers.values()];
    let idle = 0;
    while (!this.#closed && this.#inFlight < this.#options.inFlightMax && idle < readers.length) {
      const reader = readers[this.#nextReader++ % readers.length]!;
      const entry = reader.stopped ? undefined : reader.window.take();
      if (entry === undefined) {
        idle += 1;
        continue;
      }
      idle = 0;
      this.#deliver(reader, entry);
    }
  }

  #deliver(reader: PartitionReader, entry: KeyedEntry<PendingMessage>): void {
    this.#inFlight += 1;
    this.#taken.set(reader, (this.#taken.get(reader) ?? 0) + 1);
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (this.#taken.has(reader)) {
        this.#inFlight -= 1;
        this.#taken.set(reader, this.#taken.get(reader)! - 1);
      }
      for (const done of this.#drained) done();
      this.#drained.clear();
      return !this.#closed && !reader.stopped;
    };
    const pending = entry.value;
    const message: ReceivedMessage = {
      topic: this.#options.topic,
      partition: reader.partition,
      offset: String(pending.sequence),
      key: pending.key,
      headers: pending.headers,
      body: pending.body,
      timestampMs: pending.timestampMs,
      deliveryAttempt: pending.attempt,
      ack: async () => {
        if (!settle()) return;
        const handle = reader.ack(entry);
        this.ready();
        if (handle === undefined) return;
        // Resolves once JetStream recorded the ack; a lost one means a redelivery, which at-least-once allows.
        const recorded = await handle
          .ackAck({ timeout: this.#host.options.requestTimeoutMs })
          .catch(() => false);
        if (recorded) this.#host.acked();
      },
      nack: async (options) => {
        if (!settle()) return;
        reader.nack(entry, Math.max(0, Math.round(options?.delayMs ?? 0)));
        this.ready();
      },
    };
    // A handler that throws (synchronously or not) gets its message nacked: the subscriber's bug.
    void Promise.resolve()
      .then(() => this.#handler(message))
      .catch(() => message.nack());
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#host.forget(this);
    // Unsettled messages go back to the group now; running handlers' settlements then do nothing.
    const readers = [...this.#readers.values()];
    for (const reader of readers) this.#drop(reader);
    for (const done of this.#drained) done();
    this.#drained.clear();
    // Messages of pulls still open are nacked as they arrive, before the leases go to others.
    await Promise.all(readers.map((reader) => reader.pullEnded()));
    await this.#leases.stop();
  }
}
