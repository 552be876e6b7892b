/**
 * The embedded broker's scheduled messages: kept in a {@link ScheduleJournal} (fsynced before
 * `schedule` resolves) and in memory in a `DueQueue`, whose one timer fires for the earliest due
 * message. A due message is appended to its topic, then a `done` record ends it in the journal; a
 * crash between the two delivers it again after the restart, with the same CloudEvents id, so the
 * consumers' idempotency drops the copy. Memory and disk are bounded by `scheduledMax` and
 * `scheduledBytesMax`; the journal is compacted once it holds far more records than waiting messages.
 */
import {
  type CancelOutcome,
  ClosedError,
  messageSizeBytes,
  ScheduleError,
  type TransportMessage,
  type TransportScheduler,
} from '@herald/bus';
import { DueQueue } from '@herald/bus/internal';
import type { FileSystem, FsyncPolicy } from '@herald/log';
import { type ScheduledEntry, ScheduleJournal } from './schedule-journal.ts';

/** Bounds of the embedded schedule. */
export interface BrokerScheduleLimits {
  /** Most scheduled messages waiting at once (default 100,000). */
  readonly scheduledMax: number;
  /** Most bytes of scheduled messages waiting at once (default 64 MiB). */
  readonly scheduledBytesMax: number;
}

/** A failed delivery of a due message is tried again after this long. */
const REDELIVER_DELAY_MS = 1000;
/** The journal is compacted when it holds more than this many records… */
const COMPACT_RECORDS_MIN = 10_000;
/** …and more than this many per waiting message. */
const COMPACT_RECORDS_PER_WAITING = 4;

/** Appends due messages to their topics; the broker's publish path. */
export type DuePublisher = (topic: string, messages: readonly TransportMessage[]) => Promise<void>;

/** The embedded transport's {@link TransportScheduler}. */
export class BrokerScheduler implements TransportScheduler {
  readonly #journal: ScheduleJournal;
  readonly #queue: DueQueue<ScheduledEntry>;
  readonly #limits: BrokerScheduleLimits;
  readonly #publish: DuePublisher;
  readonly #onError: (error: unknown) => void;
  /** Bytes of the waiting messages, plus those being scheduled. */
  #bytes = 0;
  /** Messages being scheduled (appended but not yet in the queue), counted against the bounds. */
  #reserved = 0;
  /** Journal writes under way; a compaction waits for them. */
  readonly #writes = new Set<Promise<unknown>>();
  /** Set while a compaction runs; every journal write waits for it. */
  #compacting: Promise<void> | undefined;
  /** Entries taken from the queue whose done record is not written yet; a compaction keeps them. */
  readonly #delivering = new Map<string, ScheduledEntry>();
  /** Deliveries under way; close waits for them. */
  readonly #deliveries = new Set<Promise<void>>();
  #closed = false;

  private constructor(
    journal: ScheduleJournal,
    limits: BrokerScheduleLimits,
    publish: DuePublisher,
    onError: (error: unknown) => void,
  ) {
    this.#journal = journal;
    this.#limits = limits;
    this.#publish = publish;
    this.#onError = onError;
    this.#queue = new DueQueue((due) => this.#deliver(due.map((slot) => slot.value)));
  }

  /** Opens the schedule of the broker in `directory`, arming its timer for what still waits. */
  static async open(options: {
    readonly directory: string;
    readonly fsync: FsyncPolicy;
    readonly messageBytesMax: number;
    readonly limits: BrokerScheduleLimits;
    readonly publish: DuePublisher;
    readonly onError: (error: unknown) => void;
    /** The broker's file system (default: the real one). */
    readonly fileSystem?: FileSystem;
  }): Promise<BrokerScheduler> {
    const { journal, waiting } = await ScheduleJournal.open(
      options.directory,
      options.fsync,
      options.messageBytesMax,
      options.fileSystem,
    );
    const scheduler = new BrokerScheduler(journal, options.limits, options.publish, options.onError);
    for (const entry of waiting.values()) scheduler.#enqueue(entry);
    if (journal.recordCount > Math.max(COMPACT_RECORDS_MIN, COMPACT_RECORDS_PER_WAITING * waiting.size)) {
      await scheduler.#compact();
    }
    return scheduler;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#queue.size;
  }

  async schedule(topic: string, message: TransportMessage, deliverAtMs: number): Promise<void> {
    this.#checkOpen();
    const id = message.headers.ce_id;
    if (id === undefined || id === '') {
      throw new ScheduleError(
        'SCHEDULE_INVALID_TIME',
        'schedule: the message has no ce_id header; publish it through the bus',
      );
    }
    const bytes = messageSizeBytes(message);
    const { scheduledMax, scheduledBytesMax } = this.#limits;
    if (this.#queue.size + this.#reserved >= scheduledMax || this.#bytes + bytes > scheduledBytesMax) {
      throw new ScheduleError(
        'SCHEDULE_FULL',
        `embedded broker: ${this.#queue.size + this.#reserved} scheduled messages (${this.#bytes} bytes) wait, ` +
          `the limits are ${scheduledMax} messages and ${scheduledBytesMax} bytes; retry later, cancel some, ` +
          'or raise scheduledMax / scheduledBytesMax',
      );
    }
    const entry: ScheduledEntry = { id, topic, atMs: deliverAtMs, message };
    this.#reserved += 1;
    this.#bytes += bytes;
    try {
      await this.#write(() => this.#journal.add([entry]));
    } catch (error) {
      this.#bytes -= bytes;
      throw error;
    } finally {
      this.#reserved -= 1;
    }
    this.#bytes -= bytes;
    // Closed meanwhile: it is journaled, so it waits for the next open.
    if (!this.#closed) this.#enqueue(entry);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    this.#checkOpen();
    if (!this.#queue.has(id)) return 'not-pending';
    await this.#write(() => this.#journal.end([id], 'cancel'));
    // Delivered while the cancel record was written: the cancellation came too late.
    const removed = this.#queue.remove(id);
    if (removed === undefined) return 'not-pending';
    this.#bytes -= messageSizeBytes(removed.message);
    return 'cancelled';
  }

  /** Stops the timer and waits for deliveries under way; what waits stays in the journal. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.close();
    await Promise.allSettled([...this.#deliveries]);
    await Promise.allSettled([...this.#writes]);
    await this.#compacting?.catch(() => {});
    await this.#journal.close().catch((error: unknown) => this.#onError(error));
  }

  #enqueue(entry: ScheduledEntry): void {
    // Scheduled again under the same id (a publish retried after a lost answer): it replaces the first.
    const replaced = this.#queue.get(entry.id);
    if (replaced !== undefined) this.#bytes -= messageSizeBytes(replaced.value.message);
    this.#bytes += messageSizeBytes(entry.message);
    this.#queue.add(entry.id, entry.atMs, entry);
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('embedded broker scheduler');
  }

  /** Runs a journal write after any compaction, tracked so a compaction can wait for it. */
  async #write(write: () => Promise<void>): Promise<void> {
    while (this.#compacting !== undefined) await this.#compacting.catch(() => {});
    const writing = write();
    this.#writes.add(writing);
    try {
      await writing;
    } finally {
      this.#writes.delete(writing);
    }
  }

  /** Appends due entries to their topics, then ends them in the journal; retries failures later. */
  #deliver(due: readonly ScheduledEntry[]): void {
    for (const entry of due) this.#delivering.set(entry.id, entry);
    const delivery = (async () => {
      const byTopic = new Map<string, ScheduledEntry[]>();
      for (const entry of due) byTopic.set(entry.topic, [...(byTopic.get(entry.topic) ?? []), entry]);
      const delivered: string[] = [];
      for (const [topic, entries] of byTopic) {
        try {
          await this.#publish(
            topic,
            entries.map((entry) => entry.message),
          );
          delivered.push(...entries.map((entry) => entry.id));
          for (const entry of entries) this.#bytes -= messageSizeBytes(entry.message);
        } catch (error) {
          if (this.#closed) return;
          this.#onError(error);
          // Still journaled: keep it waiting and try again shortly.
          for (const entry of entries) {
            this.#delivering.delete(entry.id);
            this.#queue.add(entry.id, Date.now() + REDELIVER_DELAY_MS, entry);
          }
        }
      }
      if (delivered.length === 0) return;
      try {
        await this.#write(() => this.#journal.end(delivered, 'done'));
      } catch (error) {
        // Without its done record an entry is delivered again after a restart (same id).
        if (!this.#closed) this.#onError(error);
        return;
      }
      this.#maybeCompact();
    })();
    this.#deliveries.add(delivery);
    void delivery.finally(() => {
      this.#deliveries.delete(delivery);
      for (const entry of due) {
        if (!this.#queue.has(entry.id)) this.#delivering.delete(entry.id);
      }
    });
  }

  #maybeCompact(): void {
    if (this.#closed || this.#compacting !== undefined) return;
    const records = this.#journal.recordCount;
    if (records <= Math.max(COMPACT_RECORDS_MIN, COMPACT_RECORDS_PER_WAITING * this.#queue.size)) return;
    this.#compact().catch((error: unknown) => this.#onError(error));
  }

  async #compact(): Promise<void> {
    let finish = () => {};
    this.#compacting = new Promise<void>((resolve) => {
      finish = resolve;
    });
    try {
      await Promise.allSettled([...this.#writes]);
      // Entries being delivered stay until their done record is written: until then they are
      // still waiting as far as the journal is concerned.
      const waiting = [...[...this.#queue.entries()].map((slot) => slot.value), ...this.#delivering.values()];
      await this.#journal.compact(waiting);
    } finally {
      this.#compacting = undefined;
      finish();
    }
  }
}
