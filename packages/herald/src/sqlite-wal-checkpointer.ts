/**
 * The checkpointer of the SQLite idempotency store: a worker thread with its own connection that
 * copies the WAL back into the database file (a PASSIVE checkpoint) when asked, so neither the
 * writer of `remember` (sqlite-remember-writer.ts) nor the event loop runs one. A checkpoint writes
 * the WAL's pages into the database file and fsyncs it: 5–35 ms measured on a loaded machine. Run
 * by the writer between its commits, every key reaching it meanwhile waited that long for its
 * COMMIT (and the handler's delivery slot with it): at 10,000 keys/s, one checkpoint a second set
 * the bus's p99. A PASSIVE checkpoint in another connection runs beside the writer's commits (SQLite
 * WAL mode: the checkpointer copies the frames committed before it started while the writer appends
 * new ones), so no commit waits for it.
 */
import { Worker } from 'node:worker_threads';

// Evaluated by the worker, so the module needs no file of its own in the published package (see
// sqlite-remember-writer.ts for why `process.getBuiltinModule`).
const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
const database = new DatabaseSync(workerData.path);
// Its own commits are none, so its autocheckpoint never runs; synchronous decides the checkpoint's
// fsyncs (FULL: the WAL before the copy, the database file after).
database.exec('PRAGMA synchronous = ' + workerData.synchronous + '; PRAGMA wal_autocheckpoint = 0;');
const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.postMessage({ ready: true });
parentPort.on('message', () => {
  const startedMs = performance.now();
  try {
    // PASSIVE never waits for readers or writers; busy = 1 if another checkpoint (the writer's
    // fallback) was running, and the next request retries.
    const result = checkpoint.get();
    parentPort.postMessage({ checkpointMs: performance.now() - startedMs, walPages: result.log,
      copiedPages: result.checkpointed, busy: result.busy });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

/** What one checkpoint did, as the checkpointer reports it. */
export interface CheckpointReport {
  /** How long it ran. */
  readonly checkpointMs: number;
  /** Frames (4 KiB pages) in the WAL when it ran, and how many of them are in the database file now. */
  readonly walPages: number;
  readonly copiedPages: number;
}

/**
 * Runs PASSIVE checkpoints of the database at `path` in a worker thread (started on the first
 * request), one at a time: a request while one runs is remembered and run after it (so at most
 * one waits). Errors of a checkpoint are dropped (the next request retries; the writer's fallback
 * bounds the WAL meanwhile).
 */
export class WalCheckpointer {
  readonly #path: string;
  readonly #synchronous: 'FULL' | 'NORMAL';
  readonly #onCheckpoint: (report: CheckpointReport) => void;
  #worker: Worker | undefined;
  /** Settled when the current thread has opened its connection, or died before that. */
  #ready: Promise<void> = Promise.resolve();
  #running = false;
  #requested = false;
  #closed = false;

  /** `onCheckpoint` is called on the event loop after each checkpoint that ran. */
  constructor(
    path: string,
    synchronous: 'FULL' | 'NORMAL',
    onCheckpoint: (report: CheckpointReport) => void,
  ) {
    this.#path = path;
    this.#synchronous = synchronous;
    this.#onCheckpoint = onCheckpoint;
  }

  /** Asks for a checkpoint: now if none runs, else right after the one running. */
  request(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#requested = true;
      return;
    }
    this.#running = true;
    this.#start().postMessage(null);
  }

  /**
   * Starts the thread if not yet started, and resolves once it has opened its connection; rejects
   * if it died first (the next request or call starts a new one). Resolves at once after close.
   */
  ready(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#start();
    return this.#ready;
  }

  /** Stops the thread (a checkpoint running is abandoned: SQLite's checkpoints are crash-safe). */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: this.#path, synchronous: this.#synchronous },
    });
    // Never keeps the process alive: a checkpoint left undone is done by the next one.
    worker.unref();
    const { promise: ready, resolve: opened, reject: died } = Promise.withResolvers<void>();
    ready.catch(() => {}); // reported to ready()'s caller, if one waits
    this.#ready = ready;
    worker.on('message', (answer: CheckpointAnswer) => {
      if (answer.ready === true) return opened();
      this.#running = false;
      if (answer.checkpointMs !== undefined && answer.busy === 0)
        this.#onCheckpoint({
          checkpointMs: answer.checkpointMs,
          walPages: answer.walPages ?? 0,
          copiedPages: answer.copiedPages ?? 0,
        });
      if (this.#requested) {
        this.#requested = false;
        this.request();
      }
    });
    // The thread died: the next request starts a new one.
    const failed = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#running = false;
      died(error);
    };
    worker.on('error', failed);
    worker.on('exit', (code) =>
      failed(new Error(`sqliteIdempotencyStore: the checkpointer thread exited (code ${code})`)),
    );
    this.#worker = worker;
    return worker;
  }
}

/** The checkpointer's answer: what a checkpoint did, or why it failed. */
interface CheckpointAnswer {
  /** Sent once, when the thread has opened its connection (the other fields are absent then). */
  readonly ready?: true;
  readonly checkpointMs?: number;
  readonly walPages?: number;
  readonly copiedPages?: number;
  readonly busy?: number;
  readonly error?: string;
}
