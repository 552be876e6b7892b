/**
 * Durable idempotency: a consumer group processes each CloudEvents `(source, id)` once, even when
 * the transport delivers it again (redelivery after a crash, a redrive, a producer retry).
 *
 * A store remembers processed keys for a bounded window. Stores that can also run the handler's
 * own writes in the same database transaction as the dedup record (the transactional inbox, e.g.
 * `@herald/postgres`) make effects exactly-once: see {@link IdempotencyStore.transaction}.
 */
import type { OutboxStore } from './outbox.ts';

/** What identifies one processing of one message. */
export interface IdempotencyKey {
  /** The consumer group: each group processes every message once. */
  readonly group: string;
  /** CloudEvents `source`. */
  readonly source: string;
  /** CloudEvents `id`, unique per source. */
  readonly id: string;
}

/** A store of processed message keys. Implementations bound their size and document the window. */
export interface IdempotencyStore {
  /** Short name for logs, e.g. `memory`, `sqlite`, `postgres`. */
  readonly name: string;
  /** True when `key` was recorded as processed and is still inside the retention window. */
  seen(key: IdempotencyKey): Promise<boolean>;
  /** Records `key` as processed. Recording a key twice is harmless. */
  remember(key: IdempotencyKey): Promise<void>;
  /**
   * Optional: opens what the store needs (connections, threads) before the first message, so the
   * first deliveries do not wait for it and a store that cannot open fails `bus.start()` instead
   * of the first handler. The bus awaits it in `start()` when it has handlers, before any
   * subscription starts; without it (or without handlers), a store opens on first use. Calling it
   * again after it resolved does nothing.
   */
  open?(): Promise<void>;
  /**
   * Optional transactional inbox: runs `work` inside one database transaction that also inserts
   * `key`. If `key` is already there, `work` does not run and the result is `{duplicate: true}`;
   * otherwise `work` runs and its writes commit together with the key, or neither does.
   */
  transaction?<T>(
    key: IdempotencyKey,
    work: (transaction: unknown) => Promise<T>,
  ): Promise<{ duplicate: true } | { duplicate: false; value: T }>;
  /**
   * The transactional outbox in the same database, when the store was created with one: inside
   * `context.transaction`, `tx.publish` / `tx.send` stage into it, and the bus's relay publishes
   * after the commit. See `OutboxStore`.
   */
  readonly outbox?: OutboxStore;
  /** Releases connections and handles; idempotent. */
  close(): Promise<void>;
}

/** Options of {@link memoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** Keys kept at most; the oldest are forgotten first (default 100,000). */
  readonly entriesMax?: number;
  /** How long a key is remembered (default 24 h). */
  readonly retentionMs?: number;
}

/**
 * An in-process store for tests and single-process apps that accept forgetting on restart.
 * Bounded by `entriesMax` (oldest evicted first) and `retentionMs`.
 */
export function memoryIdempotencyStore(options: MemoryIdempotencyStoreOptions = {}): IdempotencyStore {
  const entriesMax = options.entriesMax ?? 100_000;
  const retentionMs = options.retentionMs ?? 24 * 60 * 60 * 1000;
  // Insertion order is age order, so the first entries are the oldest.
  const rememberedAtMs = new Map<string, number>();
  // One live iterator over the keys, oldest first, kept across evictions: a Map iterator skips
  // what was deleted and visits what was added since, and everything it passed was evicted, so
  // its next key is always the oldest. A fresh `keys()` per eviction started at the table's first
  // slot and stepped over every slot deleted since the last rehash: measured 60–75 µs per
  // `remember` at 100,000 keys (`bench/_pipeline-framing.ts`), against ≈ 1.7 µs with this.
  let oldest = rememberedAtMs.keys();
  const text = (key: IdempotencyKey) => `${key.group}\u0000${key.source}\u0000${key.id}`;
  return {
    name: 'memory',
    async seen(key) {
      const atMs = rememberedAtMs.get(text(key));
      return atMs !== undefined && Date.now() - atMs <= retentionMs;
    },
    async remember(key) {
      const name = text(key);
      rememberedAtMs.delete(name);
      rememberedAtMs.set(name, Date.now());
      while (rememberedAtMs.size > entriesMax) {
        let next = oldest.next();
        // Done only if every key was passed (none is left behind it, so none now): start again.
        if (next.done === true) {
          oldest = rememberedAtMs.keys();
          next = oldest.next();
        }
        rememberedAtMs.delete(next.value!);
      }
    },
    async close() {},
  };
}
