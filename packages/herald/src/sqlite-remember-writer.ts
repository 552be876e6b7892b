/**
 * The writer of the SQLite idempotency store's `remember`: a worker thread with its own connection
 * that inserts a batch of keys in one transaction and answers once it is committed. `node:sqlite`
 * is synchronous, so a commit on the main thread (an fsync of the WAL with `synchronous: 'full'`)
 * stalled the event loop for the length of a disk sync, and with it every publish and delivery of
 * the process; in the worker only the batch waits. Reads (`seen`) and the transactional inbox stay
 * on the main connection: WAL mode lets them run beside the worker's writes, and a read after a
 * `remember` resolved sees the key (the worker answers only after COMMIT returned).
 */
import { Worker } from 'node:worker_threads';

/**
 * How long either connection waits for the other's write lock before failing (SQLite's
 * busy_timeout): a `transaction()` whose work awaits holds it that long at most before the
 * worker's batch fails, and that batch's handlers are retried.
 */
export const WRITE_LOCK_WAIT_MS_MAX = 60_000;

/**
 * Keys committed between two checkpoints of the WAL, which the writer runs itself (PASSIVE) right
 * after answering the commit that crossed the count: the `remember`s of that commit do not wait
 * for it, only keys reaching the writer during it (SQLite's `wal_autocheckpoint` is off on the
 * writer's connection; it checkpointed every 1,000 pages inside the commit crossing them, so the
 * keys of that commit waited for the checkpoint's writes and its fsync of the database file).
 * Bounds the WAL: measured ≈ 0.063 pages (of 4 KiB) per key with time-ordered ids, so ≈ 630 pages
 * (2.5 MB) between checkpoints, and a checkpoint of ≈ 4 ms (quiet) to 20 ms (loaded machine).
 * The main connection keeps SQLite's default (a checkpoint when one of its own commits finds the
 * WAL over 1,000 pages), which the writer's checkpoints keep it from reaching.
 */
export const CHECKPOINT_EVERY_KEYS = 10_000;

// Evaluated by the worker, so the module needs no file of its own in the published package. A
// worker evaluates its source the way the process evaluates `-e` code (CommonJS, or a module under
// `--input-type=module`), so the source uses `process.getBuiltinModule`, which both provide.
const WORKER_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = process.getBuiltinModule('node:worker_threads');
const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
const database = new DatabaseSync(workerData.path);
database.exec('PRAGMA busy_timeout = ' + workerData.writeLockWaitMsMax + '; PRAGMA synchronous = ' +
  workerData.synchronous + '; PRAGMA wal_autocheckpoint = 0;');
// One statement per (group, source) of a batch inserts all its ids (a JSON array): one call into
// SQLite per batch instead of one per key.
const insert = database.prepare(
  'INSERT OR REPLACE INTO herald_processed (group_name, source, id, processed_at_ms) ' +
  'SELECT ?, ?, value, ? FROM json_each(?)');
const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let keysSinceCheckpoint = 0;
parentPort.on('message', (first) => {
  // Every batch already waiting joins this commit (one fsync for all) until it holds keysMax keys
  // (so at most 2 × keysMax - 1, as a batch holds at most keysMax): the main thread posts without
  // waiting for the previous commit, so no batch waits for a round trip through it.
  const batches = [first];
  let keys = first.keys;
  while (keys < workerData.keysMax) {
    const next = receiveMessageOnPort(parentPort);
    if (next === undefined) break;
    batches.push(next.message);
    keys += next.message.keys;
  }
  const ids = batches.map((batch) => batch.id);
  const startedMs = performance.now();
  let insertedMs = startedMs;
  try {
    database.exec('BEGIN IMMEDIATE');
    try {
      for (const batch of batches)
        for (let index = 0; index < batch.groups.length; index++)
          insert.run(batch.groups[index], batch.sources[index], batch.nowMs, batch.ids[index]);
      insertedMs = performance.now();
      database.exec('COMMIT');
    } catch (error) {
      if (database.isTransaction) database.exec('ROLLBACK');
      throw error;
    }
    const committedMs = performance.now();
    const cpu = process.threadCpuUsage();
    parentPort.postMessage({ ids, keys, insertMs: insertedMs - startedMs, commitMs: committedMs - insertedMs,
      cpuUs: cpu.user + cpu.system });
  } catch (error) {
    parentPort.postMessage({ ids, error: String((error && error.message) || error) });
  }
  keysSinceCheckpoint += keys;
  if (keysSinceCheckpoint >= workerData.checkpointEveryKeys) {
    keysSinceCheckpoint = 0;
    const startedMs = performance.now();
    try {
      const result = checkpoint.get();
      parentPort.postMessage({ ids: [], checkpointMs: performance.now() - startedMs, walPages: result.log });
    } catch {
      // A failed PASSIVE checkpoint (the database busy) is retried after the next keys.
    }
  }
});
`;

/**
 * A batch as the worker inserts it: per (group, source) of its keys, the ids as one JSON array
 * (`ids[i]` belongs to `groups[i]` and `sources[i]`), so a batch crosses to the thread as a few
 * strings, not an object per key.
 */
export interface KeyBatch {
  readonly groups: string[];
  readonly sources: string[];
  readonly ids: string[];
  /** Keys in the batch. */
  readonly keys: number;
}

/** What the writer did since it was created (for diagnostics and `bench/_idempotency-breakdown.ts`). */
export interface RememberWriterStats {
  /** Transactions committed. */
  commits: number;
  /** Keys in them. */
  keys: number;
  /** Time spent inserting (before COMMIT) and in COMMIT (with its WAL fsync), summed. */
  insertMs: number;
  commitMs: number;
  /** CPU time of the writer thread (user + system, its fsyncs' share included), as of its last commit. */
  cpuUs: number;
  /** Checkpoints of the WAL the writer ran, their time summed, and the largest WAL seen (pages). */
  checkpoints: number;
  checkpointMs: number;
  walPagesMax: number;
}

/**
 * Commits batches of keys in a worker thread (started on the first batch). Batches may be posted
 * while others commit: the worker commits every batch waiting for it together, and stops taking
 * batches once a transaction holds `keysMax` keys (more wait for the next). What waits is bounded
 * by the callers: each batch's keys belong to handlers awaiting them.
 */
export class RememberWriter {
  readonly #path: string;
  readonly #synchronous: 'FULL' | 'NORMAL';
  readonly #keysMax: number;
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #failure: Error | undefined;
  /** What the writer did so far (read by diagnostics; the worker reports it with each answer). */
  readonly stats: RememberWriterStats = {
    commits: 0,
    keys: 0,
    insertMs: 0,
    commitMs: 0,
    cpuUs: 0,
    checkpoints: 0,
    checkpointMs: 0,
    walPagesMax: 0,
  };

  /** `path` must hold the store's table already (the main connection creates it). */
  constructor(path: string, synchronous: 'FULL' | 'NORMAL', keysMax: number) {
    this.#path = path;
    this.#synchronous = synchronous;
    this.#keysMax = keysMax;
  }

  /** Inserts `batch` stamped `nowMs` in one transaction; resolves once committed, rejects if not. */
  write(batch: KeyBatch, nowMs: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const worker = this.#start();
    const id = ++this.#nextId;
    return new Promise<void>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // Referenced only while a batch waits, so an idle store never keeps the process alive.
      if (this.#waiting.size === 1) worker.ref();
      worker.postMessage({
        id,
        nowMs,
        groups: batch.groups,
        sources: batch.sources,
        ids: batch.ids,
        keys: batch.keys,
      });
    });
  }

  /** Stops the worker; call after every batch settled. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failure ??= new Error('sqliteIdempotencyStore: closed');
    if (worker !== undefined) await worker.terminate();
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path: this.#path,
        synchronous: this.#synchronous,
        writeLockWaitMsMax: WRITE_LOCK_WAIT_MS_MAX,
        keysMax: this.#keysMax,
        checkpointEveryKeys: CHECKPOINT_EVERY_KEYS,
      },
    });
    worker.unref();
    worker.on('message', (answer: WriterAnswer) => {
      this.#count(answer);
      for (const id of answer.ids) {
        const waiting = this.#waiting.get(id);
        this.#waiting.delete(id);
        if (waiting === undefined) continue;
        if (answer.error === undefined) waiting.resolve();
        else
          waiting.reject(new Error(`sqliteIdempotencyStore: cannot record processed keys: ${answer.error}`));
      }
      if (this.#waiting.size === 0) worker.unref();
    });
    // The thread died (not a failed batch, which it answers): its batches fail, and the next batch
    // starts a new thread.
    const failed = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const waiting of this.#waiting.values()) waiting.reject(error);
      this.#waiting.clear();
    };
    worker.on('error', failed);
    worker.on('exit', (code) =>
      failed(new Error(`sqliteIdempotencyStore: the writer thread exited (code ${code})`)),
    );
    this.#worker = worker;
    return worker;
  }

  #count(answer: WriterAnswer): void {
    const stats = this.stats;
    if (answer.checkpointMs !== undefined) {
      stats.checkpoints += 1;
      stats.checkpointMs += answer.checkpointMs;
      stats.walPagesMax = Math.max(stats.walPagesMax, answer.walPages ?? 0);
    }
    if (answer.commitMs === undefined) return;
    stats.commits += 1;
    stats.keys += answer.keys ?? 0;
    stats.insertMs += answer.insertMs ?? 0;
    stats.commitMs += answer.commitMs;
    // A new thread (after the last died) counts from zero again.
    stats.cpuUs = Math.max(stats.cpuUs, answer.cpuUs ?? 0);
  }
}

/** The worker's answer: a commit (or its failure) of batches `ids`, or a checkpoint it ran. */
interface WriterAnswer {
  readonly ids: number[];
  readonly error?: string;
  readonly keys?: number;
  readonly insertMs?: number;
  readonly commitMs?: number;
  readonly cpuUs?: number;
  readonly checkpointMs?: number;
  readonly walPages?: number;
}
