/**
 * Profiling helper: the SQLite idempotency store alone at a fixed rate (open loop), as the bus's
 * idempotency middleware uses it: each key is `seen`, then `remember`ed, at its scheduled time.
 * Prints the wait from the scheduled time to the `remember`'s resolution (p50, p99, max), the
 * event loop's delay, and the checkpoints: what the bus's p99 at 10,000 events/s inherits from the
 * store. `store` is a module exporting `sqliteIdempotencyStore` (default: this checkout's `herald`),
 * to compare another version of the store files in the same worktree.
 *
 *   npx node bench/_idempotency-rate.ts [keys/s] [seconds] [store module path]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { format, openLoop, summarize } from './_common.ts';

const [rateText = '10000', secondsText = '5', storeModule] = process.argv.slice(2);
const rate = Number(rateText);
const { sqliteIdempotencyStore } = (
  storeModule === undefined ? await import('herald') : await import(pathToFileURL(resolve(storeModule)).href)
) as typeof import('herald');

const directory = await mkdtemp(join(tmpdir(), 'herald-idempotency-rate-'));
try {
  const store = sqliteIdempotencyStore({ path: join(directory, 'idempotency.sqlite') });
  await store.remember({ group: 'bench', source: '/bench', id: 'warm-up' });
  const total = Math.floor(rate * Number(secondsText));
  const waitMs = new Float64Array(total);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const result = await openLoop({
    ratePerSecond: rate,
    durationMs: Number(secondsText) * 1000,
    count: total,
    outstandingMax: 100_000,
    send: async (index, scheduledMs) => {
      // UUIDv7-like: time-ordered, as the bus's envelope ids.
      const key = { group: 'bench', source: '/bench', id: `0193${String(index).padStart(12, '0')}` };
      if (await store.seen(key)) throw new Error(`fresh key ${key.id} reported seen`);
      await store.remember(key);
      waitMs[index] = performance.now() - scheduledMs;
    },
  });
  loopDelay.disable();
  const stats = (
    store as {
      writerStats?: {
        commits: number;
        keys: number;
        checkpoints: number;
        checkpointMs: number;
        walPagesMax: number;
        tailCheckpointMs?: number;
      };
    }
  ).writerStats;
  await store.close();
  const waits = summarize(Array.from(waitMs.subarray(0, result.completed)));
  process.stdout.write(
    `${storeModule ?? 'herald'} ${rate}/s: ${result.completed}/${total} in ${format(result.seconds, 2)} s; ` +
      `scheduled → remembered ms p50 ${format(waits.p50, 2)} p99 ${format(waits.p99, 2)} max ${format(waits.max, 1)}; ` +
      `loop delay p99 ${format(loopDelay.percentile(99) / 1e6, 2)} max ${format(loopDelay.max / 1e6, 1)}` +
      (stats === undefined
        ? '\n'
        : `; ${stats.commits} commits (${format(stats.keys / Math.max(1, stats.commits), 1)} keys each); checkpoints ${stats.checkpoints} (${format(stats.checkpointMs / Math.max(1, stats.checkpoints), 1)} ms each, ${format((stats.tailCheckpointMs ?? 0) / Math.max(1, stats.checkpoints), 1)} ms of it on the writer), largest WAL ${stats.walPagesMax} pages\n`),
  );
} finally {
  await rm(directory, { recursive: true, force: true });
}
