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
import { WalCheckpointer } from './sqlite-wal-checkpointer.ts';

/**
 * How long either connection waits for the other's write lock before failing (SQLite's
 * busy_timeout): a `transaction()` whose work awaits holds it that long at most before the
 * worker's batch fails, and that batch's handlers are retried.
 */
export const WRITE_LOCK_WAIT_MS_MAX = 60_000;

/**
 * Keys, or commits, between two checkpoints of the WAL (whichever count is reached first), which
 * the checkpointer thread runs (PASSIVE, its own connection: sqlite-wal-checkpointer.ts) beside the
 * writer's commits, so no `remember` waits for one. Before, the writer ran them between its commits
 * (5–35 ms each under load, one a second at 10,000 keys/s), and every key reaching it meanwhile
 * waited: that set the bus's p99. A commit writes whole pages: measured ≈ 0.063 pages (of 4 KiB) per
 * key at 256 keys per commit, but ≈ 6 pages per commit at 15 keys per commit (an open loop of
 * 10,000 keys/s), so both counts: ≈ 600–650 pages (2.5 MB) between checkpoints either way. A
 * checkpoint copies the frames committed before it started; SQLite starts the WAL over only at the
 * first write after one that copied every frame, which under steady writes (the writer committing
 * back to back) almost never happens: measured, the WAL grew to the fallback's bound. See
 * {@link WAL_RESTART_PAGES} for how it starts over.
 */
export const CHECKPOINT_EVERY_KEYS = 10_000;
/** See {@link CHECKPOINT_EVERY_KEYS}. */
export const CHECKPOINT_EVERY_COMMITS = 100;

/**
 * The WAL's size, in pages (8 MB), from which it is started over: once a checkpoint of the
 * checkpointer's found the WAL this large, the writer, between two commits, runs a PASSIVE
 * checkpoint of what was committed meanwhile, and its next transaction starts the WAL over. That
 * tail is a few commits' pages and two fsyncs (the WAL's, the database file's): 2.5–5 ms measured
 * at load 5–6, which the keys reaching the writer then wait for (not the whole copy, 5–35 ms). Not
 * after every checkpoint, as its cost is mostly the fsyncs: at 10,000 keys/s in commits of ≈ 16
 * keys (≈ 6 pages each), once every ≈ 0.5 s; at 256 keys per commit, once every ≈ 3 s.
 */
export const WAL_RESTART_PAGES = 2_000;

/**
 * The WAL's bound, in pages (of 4 KiB: 16 MB): the fallback. On the writer's connection SQLite's
 * autocheckpoint is set to it, so the commit that leaves the WAL at this many frames or more runs
 * a PASSIVE checkpoint itself (the keys of that commit wait for it); with no commit of the writer's
 * during it, it copies every frame, and the writer's next transaction starts the WAL over. So the
 * WAL holds at most this many pages plus those committed while a checkpoint of the checkpointer's
 * was running (the fallback finds it busy and tries again at the next commit). Reached only when
 * the checkpointer's checkpoints keep ending mid-commit (a writer busy all the time) or the
 * checkpointer died. The main connection (`seen`, `transaction`) keeps SQLite's default, a
 * checkpoint when one of its own commits finds the WAL over 1,000 pages.
 */
export const WAL_PAGES_MAX = 4_000;

// Evaluated by the worker, so the module needs no file of its own in the published package. A
// worker evaluates its source the way the process evaluates `-e` code (CommonJS, or a module under
// `--input-type=module`), so the source uses `process.getBuiltinModule`, which both provide.
const WORKER_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = process.getBuiltinModule('node:worker_threads');
const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
const database = new DatabaseSync(workerData.path);
database.exec('PRAGMA busy_timeout = ' + workerData.writeLockWaitMsMax + '; PRAGMA synchronous = ' +
  workerData.synchronous + '; PRAGMA wal_autocheckpoint = ' + workerData.walPagesMax + ';');
// One statement per (group, source) of a batch inserts all its ids (a JSON array): one call into
// SQLite per batch instead of one per key.
const insert = database.prepare(
  'INSERT OR REPLACE INTO herald_processed (group_name, source, id, processed_at_ms) ' +
  'SELECT ?, ?, value, ? FROM json_each(?)');
// The tail of a checkpoint (see CHECKPOINT_EVERY_KEYS): run between two commits when asked.
const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.postMessage({ ready: true });
let checkpointDue = false;
const finishCheckpoint = () => {
  const startedMs = performance.now();
  try {
    const result = checkpoint.get();
    // Not every frame copied (the checkpointer's next checkpoint running, or a reader on an older
    // snapshot): tried again after the next commit.
    checkpointDue = result.busy !== 0 || result.checkpointed < result.log;
    parentPort.postMessage({ ids: [], tailMs: performance.now() - startedMs, walPages: result.log });
  } catch {
    // The database busy (a checkpoint of the main connection's): tried again after the next commit.
  }
};
parentPort.on('message', (first) => {
  if (first.checkpoint === true) {
    checkpointDue = true;
    return finishCheckpoint();
  }
  // Every batch already waiting joins this commit (one fsync for all) until it holds keysMax keys
  // (so at most 2 × keysMax - 1, as a batch holds at most keysMax): the main thread posts without
  // waiting for the previous commit, so no batch waits for a round trip through it.
  const batches = [first];
  let keys = first.keys;
  while (keys < workerData.keysMax) {
    const next = receiveMessageOnPort(parentPort);
    if (next === undefined) break;
    if (next.message.checkpoint === true) {
      checkpointDue = true;
      continue;
    }
    batches.push(next.message);
    keys += next.message.keys;
  }
  const ids = batches.map((batch) => batch.id);
  const startedMs = performance.now();
  // Clock times (timeOrigin + now) compare across threads: how long each batch waited to be taken.
  const startedAtMs = performance.timeOrigin + startedMs;
  let queuedMs = 0;
  for (const batch of batches) queuedMs += startedAtMs - batch.postedAtMs;
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
      cpuUs: cpu.user + cpu.system, queuedMs, committedAtMs: performance.timeOrigin + committedMs });
  } catch (error) {
    parentPort.postMessage({ ids, error: String((error && error.message) || error) });
  }
  if (checkpointDue) finishCheckpoint();
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
  /** Batches handed to the thread and committed. */
  batches: number;
  /**
   * Time batches waited from being posted until their transaction began (summed over batches),
   * and time answers waited from COMMIT's return until this thread handled them (summed over
   * commits: what a busy event loop adds to every key's wait).
   */
  queuedMs: number;
  answerMs: number;
  /** CPU time of the writer thread (user + system, its fsyncs' share included), as of its last commit. */
  cpuUs: number;
  /**
   * Checkpoints of the WAL the checkpointer thread ran, their time summed, and the largest WAL they
   * or the writer's catch-up checkpoints found (pages). The writer's fallback checkpoints (see
   * {@link WAL_PAGES_MAX}) run inside SQLite's commit and are not counted.
   */
  checkpoints: number;
  checkpointMs: number;
  walPagesMax: number;
  /** Time the writer spent finishing them (copying what was committed during each), summed. */
  tailCheckpointMs: number;
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
  readonly #checkpointEveryKeys: number;
  #worker: Worker | undefined;
  /** Settled when the current thread has opened its connection, or died before that. */
  #ready: Promise<void> = Promise.resolve();
  #nextId = 0;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #failure: Error | undefined;
  readonly #checkpointer: WalCheckpointer;
  /** Keys and commits since the last checkpoint was asked for. */
  #keysSinceCheckpoint = 0;
  #commitsSinceCheckpoint = 0;
  /** What the writer did so far (read by diagnostics; the worker reports it with each answer). */
  readonly stats: RememberWriterStats = {
    commits: 0,
    keys: 0,
    insertMs: 0,
    commitMs: 0,
    batches: 0,
    queuedMs: 0,
    answerMs: 0,
    cpuUs: 0,
    checkpoints: 0,
    checkpointMs: 0,
    walPagesMax: 0,
    tailCheckpointMs: 0,
  };

  /**
   * `path` must hold the store's table already (the main connection creates it).
   * `checkpointEveryKeys` (default {@link CHECKPOINT_EVERY_KEYS}; `Infinity`: never) is for tests
   * and benchmarks: with none, only the fallback at {@link WAL_PAGES_MAX} checkpoints.
   */
  constructor(
    path: string,
    synchronous: 'FULL' | 'NORMAL',
    keysMax: number,
    checkpointEveryKeys: number = CHECKPOINT_EVERY_KEYS,
  ) {
    this.#path = path;
    this.#synchronous = synchronous;
    this.#keysMax = keysMax;
    this.#checkpointEveryKeys = checkpointEveryKeys;
    this.#checkpointer = new WalCheckpointer(path, synchronous, (report) => {
      this.stats.checkpoints += 1;
      this.stats.checkpointMs += report.checkpointMs;
      this.stats.walPagesMax = Math.max(this.stats.walPagesMax, report.walPages);
      // The writer copies what was committed meanwhile, so its next transaction can start the WAL
      // over (see WAL_RESTART_PAGES).
      if (report.walPages >= WAL_RESTART_PAGES) this.#worker?.postMessage({ checkpoint: true });
    });
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
        postedAtMs: performance.timeOrigin + performance.now(),
        groups: batch.groups,
        sources: batch.sources,
        ids: batch.ids,
        keys: batch.keys,
      });
    });
  }

  /**
   * Starts the thread (and the checkpointer's) if not yet started, and resolves once both have
   * opened their connections; rejects if a thread died first (the next call starts a new one).
   */
  ready(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#start();
    return Promise.all([this.#ready, this.#checkpointer.ready()]).then(() => {});
  }

  /** Stops the worker; call after every batch settled. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failure ??= new Error('sqliteIdempotencyStore: closed');
    if (worker !== undefined) await worker.terminate();
    await this.#checkpointer.close();
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
        walPagesMax: WAL_PAGES_MAX,
      },
    });
    worker.unref();
    const { promise: ready, resolve: opened, reject: died } = Promise.withResolvers<void>();
    ready.catch(() => {}); // also reported to the batches waiting, or the next ready() call
    this.#ready = ready;
    worker.on('message', (answer: WriterAnswer) => {
      if (answer.ready === true) return opened();
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
      died(error);
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
    if (answer.tailMs !== undefined) {
      stats.tailCheckpointMs += answer.tailMs;
      stats.walPagesMax = Math.max(stats.walPagesMax, answer.walPages ?? 0);
    }
    if (answer.commitMs === undefined) return;
    stats.commits += 1;
    stats.keys += answer.keys ?? 0;
    stats.insertMs += answer.insertMs ?? 0;
    stats.commitMs += answer.commitMs;
    stats.batches += answer.ids.length;
    stats.queuedMs += answer.queuedMs ?? 0;
    if (answer.committedAtMs !== undefined)
      stats.answerMs += performance.timeOrigin + performance.now() - answer.committedAtMs;
    // A new thread (after the last died) counts from zero again.
    stats.cpuUs = Math.max(stats.cpuUs, answer.cpuUs ?? 0);
    this.#keysSinceCheckpoint += answer.keys ?? 0;
    this.#commitsSinceCheckpoint += 1;
    if (
      this.#keysSinceCheckpoint >= this.#checkpointEveryKeys ||
      this.#commitsSinceCheckpoint >=
        this.#checkpointEveryKeys / (CHECKPOINT_EVERY_KEYS / CHECKPOINT_EVERY_COMMITS)
    ) {
      this.#keysSinceCheckpoint = 0;
      this.#commitsSinceCheckpoint = 0;
      this.#checkpointer.request();
    }
  }
}

/** The worker's answer: a commit (or its failure) of batches `ids`, or a checkpoint's tail it ran. */
interface WriterAnswer {
  /** Sent once, when the thread has opened its connection (the other fields are absent then). */
  readonly ready?: true;
  readonly ids: number[];
  readonly tailMs?: number;
  readonly walPages?: number;
  readonly error?: string;
  readonly keys?: number;
  readonly insertMs?: number;
  readonly commitMs?: number;
  readonly cpuUs?: number;
  readonly queuedMs?: number;
  readonly committedAtMs?: number;
}
