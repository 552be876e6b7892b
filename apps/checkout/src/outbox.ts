/**
 * The transactional outbox: a handler stages the messages it wants to send in the same SQLite
 * transaction as its state change, publishes them after the commit, and marks them sent. If the
 * process dies between the commit and the publish, the relay publishes the staged rows on the next
 * start. Herald's inbox alone cannot cover that gap: a redelivered message whose transaction
 * committed is skipped as a duplicate, so its follow-up publish would never happen.
 *
 * A republished row keeps its message id, so consumers' dedup drops the copy. Each row's sequence
 * number travels as the CloudEvents extension `seq`: one service produces each topic, so per key
 * the sequence rises in publish order, which is what the audit checks.
 */
import type { DatabaseSync } from 'node:sqlite';
import { type Bus, type CommandContract, type Envelope, type EventContract, uuidv7 } from 'herald';
import { CONTRACTS_BY_TYPE } from './contracts.ts';
import type { ServiceStore } from './store.ts';

/** Tables of the outbox, part of every producing service's schema. */
export const OUTBOX_SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    correlation_id TEXT,
    causation_id TEXT,
    created_at_ms INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent = 0;`;

/** A message staged in the outbox. */
export interface StagedMessage {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
}

/** What a handler wants sent: a contract and its payload. */
export interface Outgoing {
  readonly contract: EventContract | CommandContract;
  readonly data: unknown;
}

/** How often the relay looks for rows nobody published, in milliseconds. */
const RELAY_INTERVAL_MS = 1000;
/** A row younger than this is probably being flushed by its handler right now. */
const RELAY_AGE_MS_MIN = 2000;
/** Rows the relay publishes per pass. */
const RELAY_BATCH_ROWS = 500;
/** How often sent rows are marked, in milliseconds (batched: one transaction per tick). */
const MARK_INTERVAL_MS = 50;

/** One service's outbox over its store. */
export class Outbox {
  readonly #store: ServiceStore;
  #bus: Bus | undefined;
  readonly #inFlight = new Set<number>();
  #toMark: number[] = [];
  #relayTimer: NodeJS.Timeout | undefined;
  #markTimer: NodeJS.Timeout | undefined;
  #relaying: Promise<void> = Promise.resolve();

  constructor(store: ServiceStore) {
    this.#store = store;
  }

  /**
   * Stages `messages` inside the caller's transaction on `database`, caused by `cause` (copies its
   * correlation id, sets the causation id). Returns the rows to {@link flush} after the commit.
   */
  stage(database: DatabaseSync, messages: readonly Outgoing[], cause?: Envelope): StagedMessage[] {
    const insert = database.prepare(
      `INSERT INTO outbox (id, type, data, correlation_id, causation_id, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`,
    );
    return messages.map(({ contract, data }) => {
      const id = uuidv7();
      const correlationId = cause === undefined ? undefined : (cause.correlationid ?? cause.id);
      const causationId = cause?.id;
      const row = insert.get(
        id,
        contract.type,
        JSON.stringify(data),
        correlationId ?? null,
        causationId ?? null,
        Date.now(),
      ) as { seq: number };
      return { seq: row.seq, id, type: contract.type, data, correlationId, causationId };
    });
  }

  /** Publishes staged rows (concurrently: they go to different topics or follow causally) and marks them sent. */
  async flush(staged: readonly StagedMessage[]): Promise<void> {
    for (const message of staged) this.#inFlight.add(message.seq);
    try {
      await Promise.all(staged.map((message) => this.#publish(message)));
      for (const message of staged) this.#toMark.push(message.seq);
    } finally {
      for (const message of staged) this.#inFlight.delete(message.seq);
    }
  }

  /** Attaches the service's bus, publishes every row left unsent (by a crash), and starts the relay. */
  async start(bus: Bus): Promise<void> {
    this.#bus = bus;
    await this.#relay(0);
    this.#markTimer = setInterval(() => void this.#markSent(), MARK_INTERVAL_MS);
    this.#relayTimer = setInterval(() => {
      this.#relaying = this.#relaying.then(() => this.#relay(RELAY_AGE_MS_MIN));
    }, RELAY_INTERVAL_MS);
  }

  /** Stops the relay (call before stopping the bus, so no relay pass meets a closed bus). */
  async stopRelay(): Promise<void> {
    clearInterval(this.#relayTimer);
    await this.#relaying;
  }

  /** Marks what was sent and stops marking (call after the bus drained its handlers). */
  async close(): Promise<void> {
    clearInterval(this.#relayTimer);
    clearInterval(this.#markTimer);
    await this.#relaying;
    await this.#markSent();
  }

  /** Rows not yet marked sent (for the report: zero once everything is published). */
  unsentCount(): number {
    const row = this.#store.read.prepare('SELECT count(*) AS total FROM outbox WHERE sent = 0').get() as {
      total: number;
    };
    return row.total;
  }

  async #publish(message: StagedMessage): Promise<void> {
    const bus = this.#bus;
    if (bus === undefined) throw new Error(`outbox ${this.#store.name}: flush before start`);
    const contract = CONTRACTS_BY_TYPE.get(message.type);
    if (contract === undefined) throw new Error(`outbox ${this.#store.name}: unknown type ${message.type}`);
    const options = {
      id: message.id,
      correlationId: message.correlationId,
      causationId: message.causationId,
      extensions: { seq: String(message.seq) },
    };
    // The data was validated when staged; the bus validates it again on the way out.
    if (contract.kind === 'event') await bus.publish(contract, message.data as never, options);
    else await bus.send(contract, message.data as never, options);
  }

  async #relay(ageMsMin: number): Promise<void> {
    try {
      for (let pass = 0; pass < 100; pass++) {
        const rows = this.#store.read
          .prepare(
            `SELECT seq, id, type, data, correlation_id, causation_id FROM outbox
             WHERE sent = 0 AND created_at_ms <= ? ORDER BY seq LIMIT ${RELAY_BATCH_ROWS}`,
          )
          .all(Date.now() - ageMsMin) as {
          seq: number;
          id: string;
          type: string;
          data: string;
          correlation_id: string | null;
          causation_id: string | null;
        }[];
        const pending = rows.filter((row) => !this.#inFlight.has(row.seq) && !this.#toMark.includes(row.seq));
        if (pending.length === 0) return;
        // In order, one at a time: rows of one key must go out in sequence.
        for (const row of pending) {
          await this.flush([
            {
              seq: row.seq,
              id: row.id,
              type: row.type,
              data: JSON.parse(row.data),
              correlationId: row.correlation_id ?? undefined,
              causationId: row.causation_id ?? undefined,
            },
          ]);
        }
        await this.#markSent();
      }
    } catch (error) {
      // The next pass retries; a closed bus during shutdown lands here too.
      process.emitWarning(`outbox ${this.#store.name}: relay pass failed: ${String(error)}`);
    }
  }

  async #markSent(): Promise<void> {
    if (this.#toMark.length === 0) return;
    const seqs = this.#toMark;
    this.#toMark = [];
    try {
      await this.#store.write((database) => {
        const mark = database.prepare('UPDATE outbox SET sent = 1 WHERE seq = ?');
        for (const seq of seqs) mark.run(seq);
      });
    } catch (error) {
      this.#toMark.push(...seqs);
      process.emitWarning(`outbox ${this.#store.name}: marking rows sent failed: ${String(error)}`);
    }
  }
}
