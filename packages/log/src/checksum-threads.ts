/**
 * CRC-32C of many byte ranges on worker threads, for recovery's validating scan (segment-scan.ts).
 *
 * Why: recovering an unindexed log is bound by CRC-32C (about 0.4 s of one core per GiB in
 * JavaScript; Node has no native CRC-32C), and the event loop that computes it is the one that also
 * issues every read, sync and checkpoint of the partitions recovering together. A worker computes
 * the checksums of a window (a `SharedArrayBuffer`, so nothing is copied) while the loop reads the
 * next windows of other partitions.
 *
 * A burst of checksums starts threads only after {@link CHECKSUM_THREAD_START_AFTER_BYTES} were
 * computed inline. Bounds: at most {@link CHECKSUM_THREADS_MAX} threads (one fewer than the cores, at least
 * one, at most four), each with at most {@link CHECKSUM_JOBS_PER_THREAD_MAX} windows in flight; when every
 * thread is that busy, or a window is not shared memory, the caller computes on its own thread, so
 * nothing queues without bound and the caller's core is never idle. Threads start on first use, do
 * not keep the process alive while idle, and end after {@link CHECKSUM_THREADS_IDLE_MS} without
 * work (a thread holds a few MiB of memory). A thread that fails or exits only costs speed: its
 * windows are checksummed on the calling thread instead.
 */

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { crc32c, crc32cSource } from './crc32c.ts';

/** Most checksum threads: cores minus the caller's, from 1 to 4. */
export const CHECKSUM_THREADS_MAX = Math.min(4, Math.max(1, os.availableParallelism() - 1));

/**
 * Most windows in flight per thread. With 2 (one computing, one waiting) the caller found the
 * thread full for most windows, since it hands out new ones only between its own inline windows:
 * recovering 1.1 GB over 400 partitions on 2 cores, it computed 717 MB of the CRCs and the thread
 * 380 MB. With 8, half the windows of the 16 partitions a store opens at once
 * (PARTITIONS_OPENING_MAX, log-store.ts), they split about evenly (about 410 MB inline, 96 MiB of
 * it before the thread starts); with 16 the thread got every window after the start and became the
 * bound while the caller idled. Each window is a scan's own, so this queues no extra memory.
 */
export const CHECKSUM_JOBS_PER_THREAD_MAX = 8;

/** Idle time after which the threads end. */
export const CHECKSUM_THREADS_IDLE_MS = 1000;

/**
 * Bytes checksummed on the calling thread in a burst (calls less than
 * {@link CHECKSUM_THREADS_IDLE_MS} apart) before the first thread starts. Starting one costs about
 * 40 ms of CPU (measured, first window included), what about 96 MiB of CRC-32C costs here; paying
 * that in CRC first (ski rental) means a small recovery (the 166 MiB of 1 M events over 400
 * partitions) never starts a thread, and a large one spends at most twice the least it could.
 */
export const CHECKSUM_THREAD_START_AFTER_BYTES = 96 * 1024 * 1024;

/** Fewer checksummed bytes than this in a call are computed inline: a round trip costs more. */
const THREADED_BYTES_MIN = 64 * 1024;

// Evaluated by the worker (see crc32cSource): answers each window with the CRC of each range.
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
${crc32cSource()}
parentPort.on('message', (job) => {
  const bytes = new Uint8Array(job.buffer, job.byteOffset, job.byteLength);
  const ranges = job.ranges;
  const crcs = new Uint32Array(ranges.length >>> 1);
  for (let index = 0; index < crcs.length; index++) {
    crcs[index] = crc32cUpdate(0, bytes, ranges[2 * index], ranges[2 * index + 1]);
  }
  parentPort.postMessage({ id: job.id, crcs }, [crcs.buffer]);
});
`;

interface Job {
  readonly resolve: (crcs: Uint32Array) => void;
  readonly reject: (error: unknown) => void;
}

interface Thread {
  readonly worker: Worker;
  readonly jobs: Map<number, Job>;
}

const threads: Thread[] = [];
let nextJobId = 0;
let idleTimer: NodeJS.Timeout | undefined;
let burstInlineBytes = 0;
let lastCallMs = Number.NEGATIVE_INFINITY;

/** CRC-32C of each range `[ranges[2i], ranges[2i + 1])` of `bytes`, on this thread. */
function checksumInline(bytes: Uint8Array, ranges: Int32Array): Uint32Array {
  const crcs = new Uint32Array(ranges.length >>> 1);
  for (let index = 0; index < crcs.length; index++) {
    crcs[index] = crc32c(bytes, ranges[2 * index]!, ranges[2 * index + 1]!);
  }
  return crcs;
}

function stopThread(thread: Thread): void {
  const index = threads.indexOf(thread);
  if (index >= 0) threads.splice(index, 1);
  void thread.worker.terminate().catch(() => {});
}

function startThread(): Thread {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  const thread: Thread = { worker, jobs: new Map() };
  worker.on('message', (answer: { id: number; crcs: Uint32Array }) => {
    const job = thread.jobs.get(answer.id);
    thread.jobs.delete(answer.id);
    if (thread.jobs.size === 0) worker.unref();
    job?.resolve(answer.crcs);
    scheduleIdleStop();
  });
  const failed = (error: unknown): void => {
    stopThread(thread);
    for (const job of thread.jobs.values()) job.reject(error);
    thread.jobs.clear();
  };
  worker.on('error', failed);
  worker.on('exit', (code) => failed(new Error(`checksum thread exited with code ${code}`)));
  threads.push(thread);
  return thread;
}

function scheduleIdleStop(): void {
  if (threads.some((thread) => thread.jobs.size > 0)) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    if (threads.some((thread) => thread.jobs.size > 0)) return;
    for (const thread of [...threads]) stopThread(thread);
  }, CHECKSUM_THREADS_IDLE_MS);
  idleTimer.unref();
}

/** The least busy thread with room for a job, starting one while below the bound. */
function pickThread(): Thread | undefined {
  let best: Thread | undefined;
  for (const thread of threads) {
    if (best === undefined || thread.jobs.size < best.jobs.size) best = thread;
  }
  if ((best === undefined || best.jobs.size > 0) && threads.length < CHECKSUM_THREADS_MAX) {
    return startThread();
  }
  return best !== undefined && best.jobs.size < CHECKSUM_JOBS_PER_THREAD_MAX ? best : undefined;
}

/**
 * CRC-32C of each range `[ranges[2i], ranges[2i + 1])` of `bytes` (offsets into `bytes`), on a
 * checksum thread when `bytes` is shared memory, the ranges are large enough and a thread has room,
 * otherwise on this thread. `bytes` must not change until the result is in.
 */
export function checksumRanges(bytes: Uint8Array, ranges: Int32Array): Uint32Array | Promise<Uint32Array> {
  let total = 0;
  for (let index = 0; index < ranges.length; index += 2) total += ranges[index + 1]! - ranges[index]!;
  if (total < THREADED_BYTES_MIN || !(bytes.buffer instanceof SharedArrayBuffer)) {
    return checksumInline(bytes, ranges);
  }
  const nowMs = performance.now();
  if (nowMs - lastCallMs > CHECKSUM_THREADS_IDLE_MS) burstInlineBytes = 0;
  lastCallMs = nowMs;
  if (threads.length === 0 && burstInlineBytes < CHECKSUM_THREAD_START_AFTER_BYTES) {
    burstInlineBytes += total;
    return checksumInline(bytes, ranges);
  }
  const thread = pickThread();
  if (thread === undefined) return checksumInline(bytes, ranges);
  clearTimeout(idleTimer);
  idleTimer = undefined;
  const id = ++nextJobId;
  const answered = new Promise<Uint32Array>((resolve, reject) => {
    thread.jobs.set(id, { resolve, reject });
  });
  // Referenced while it owes an answer, so a recovery waiting on it keeps the process alive.
  if (thread.jobs.size === 1) thread.worker.ref();
  thread.worker.postMessage({
    id,
    buffer: bytes.buffer,
    byteOffset: bytes.byteOffset,
    byteLength: bytes.byteLength,
    ranges,
  });
  return answered.catch(() => checksumInline(bytes, ranges));
}
