/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the SQLite
 * idempotency store alone, used the way the bus's idempotency middleware uses it, with where its
 * time goes. `handlers` loops (the bus's in-flight window) each take a fresh key, `seen` it, then
 * `remember` it and wait for the commit, for `seconds`. Prints keys/s, CPU µs per key (the whole
 * process: main thread and writer thread), the `seen` and `remember` waits, and the writer's
 * counters: commits/s and keys per commit, insert µs per key, COMMIT ms (the WAL fsync with
 * `synchronous: 'full'`), WAL checkpoints. Little's law bounds the rate: handlers ÷ mean
 * `remember` wait.
 *
 *   npx node bench/_idempotency-breakdown.ts [handlers] [seconds] [full|normal]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RememberWriterStats, sqliteIdempotencyStore } from 'herald';
import { format, summarize } from './_common.ts';

const [handlersText = '256', secondsText = '3', synchronous = 'full'] = process.argv.slice(2);
const handlers = Number(handlersText);
const durationMs = Number(secondsText) * 1000;

const directory = await mkdtemp(join(tmpdir(), 'herald-idempotency-breakdown-'));
try {
  const store = sqliteIdempotencyStore({
    path: join(directory, 'idempotency.sqlite'),
    synchronous: synchronous === 'normal' ? 'normal' : 'full',
  });
  // Opens the database and starts the writer thread before the clock starts.
  await store.remember({ group: 'bench', source: '/bench', id: 'warm-up' });
  // Absent on a store from before the counters (comparing against an older checkout).
  const writerStats = (): RememberWriterStats =>
    (store as { writerStats?: RememberWriterStats }).writerStats ?? {
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
  const statsBefore = { ...writerStats() };
  const seenMs: number[] = [];
  const rememberMs: number[] = [];
  let next = 0;
  const cpuStart = process.cpuUsage();
  const startedMs = performance.now();
  const endMs = startedMs + durationMs;
  await Promise.all(
    Array.from({ length: handlers }, async () => {
      // Bounded by the duration.
      while (performance.now() < endMs) {
        // UUIDv7-like: time-ordered, as the bus's envelope ids.
        const key = { group: 'bench', source: '/bench', id: `0193${String(next++).padStart(12, '0')}` };
        const calledMs = performance.now();
        if (await store.seen(key)) throw new Error(`fresh key ${key.id} reported seen`);
        const lookedUpMs = performance.now();
        await store.remember(key);
        seenMs.push(lookedUpMs - calledMs);
        rememberMs.push(performance.now() - lookedUpMs);
      }
    }),
  );
  const elapsedMs = performance.now() - startedMs;
  const cpu = process.cpuUsage(cpuStart);
  const stats = { ...writerStats() };
  await store.close();
  const keys = rememberMs.length;
  const commits = stats.commits - statsBefore.commits;
  const committedKeys = stats.keys - statsBefore.keys;
  const remember = summarize(rememberMs);
  const seen = summarize(seenMs);
  const meanRememberMs = rememberMs.reduce((sum, value) => sum + value, 0) / keys;
  const lines = [
    `sqlite idempotency store, ${handlers} handlers, synchronous=${synchronous}: ${format((keys / elapsedMs) * 1000)} keys/s, ` +
      `${((cpu.user + cpu.system) / keys).toFixed(2)} µs CPU/key (main + writer thread; the writer's ` +
      `${((stats.cpuUs - statsBefore.cpuUs) / keys).toFixed(2)})`,
    `  seen wait: p50 ${format(seen.p50, 2)} ms, p99 ${format(seen.p99, 2)} ms (one query per run of lookups)`,
    `  remember wait: p50 ${format(remember.p50, 2)} ms, p99 ${format(remember.p99, 2)} ms, mean ${format(meanRememberMs, 2)} ms ` +
      `→ Little's law bound ${format((handlers / meanRememberMs) * 1000)} keys/s`,
    `  writer: ${format((commits / elapsedMs) * 1000)} commits/s (= fsyncs/s), ${format(committedKeys / commits, 1)} keys/commit, ` +
      `insert ${format(((stats.insertMs - statsBefore.insertMs) * 1000) / committedKeys, 2)} µs/key, ` +
      `COMMIT ${format((stats.commitMs - statsBefore.commitMs) / commits, 2)} ms each`,
    `  checkpoints: ${stats.checkpoints - statsBefore.checkpoints} (${format(stats.checkpointMs - statsBefore.checkpointMs, 1)} ms in all, ` +
      `${format(stats.tailCheckpointMs - statsBefore.tailCheckpointMs, 1)} ms on the writer), ` +
      `largest WAL ${format(stats.walPagesMax)} pages`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await rm(directory, { recursive: true, force: true });
}
