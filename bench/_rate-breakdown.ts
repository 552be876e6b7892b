/**
 * Profiling helper: the open-loop row of `bench -- embedded` with each event's latency split:
 * late (scheduled → publish called), publish (called → publish resolved), deliver (called →
 * handler), and the handler → ack (acked from the transport's side is not observable here).
 *
 *   npx node bench/_rate-breakdown.ts <events/s> <idempotent|plain> [seconds] [store module path]
 *
 * `store module path`: a module exporting `sqliteIdempotencyStore` (default: this checkout's
 * `herald`), to compare another version of the store files in the same worktree.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent } from '@herald/bus';
import { z } from 'zod';
import { format, openLoop, summarize } from './_common.ts';

const [rateText = '10000', mode = 'idempotent', secondsText = '3', storeModule] = process.argv.slice(2);
const { sqliteIdempotencyStore } = (
  storeModule === undefined
    ? await import('herald')
    : await import(pathToFileURL(path.resolve(storeModule)).href)
) as typeof import('herald');
const BenchEvent = defineEvent('BenchEvent', {
  topic: 'bench-events',
  schema: z.object({ id: z.string(), amount: z.number().int(), note: z.string() }),
  key: (event) => event.id,
});
const root = await mkdtemp(path.join(tmpdir(), 'herald-rate-breakdown-'));
try {
  for (let round = 0; round < 2; round++) {
    const directory = path.join(root, `run-${round}`);
    // The store's `remember` timed: how long a handled message waits for its key's commit.
    const rememberMs: number[] = [];
    const store = sqliteIdempotencyStore({ path: path.join(directory, 'idempotency.sqlite') });
    const remember = store.remember.bind(store);
    const timed = {
      ...store,
      seen: store.seen.bind(store),
      close: store.close.bind(store),
      remember: async (key: Parameters<typeof remember>[0]) => {
        const startedMs = performance.now();
        await remember(key);
        rememberMs.push(performance.now() - startedMs);
      },
    };
    const bus = createBus({
      transport: await embeddedTransport({ dir: directory }),
      source: '/bench',
      ...(mode === 'idempotent' ? { idempotency: timed } : {}),
    });
    const total = Math.floor(Number(rateText) * Number(secondsText));
    const scheduled = new Float64Array(total);
    const called = new Float64Array(total);
    const published = new Float64Array(total);
    const handled = new Float64Array(total);
    let count = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    bus.on(BenchEvent, { group: 'bench', concurrency: 256 }, (event) => {
      handled[event.amount] = performance.now();
      if (++count === total) done();
    });
    await bus.start();
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    await openLoop({
      ratePerSecond: Number(rateText),
      durationMs: Number(secondsText) * 1000,
      count: total,
      outstandingMax: 100_000,
      send: async (index, atMs) => {
        scheduled[index] = atMs;
        called[index] = performance.now();
        await bus.publish(BenchEvent, { id: `order-${index}`, amount: index, note: 'benchmark event' });
        published[index] = performance.now();
      },
    });
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    loopDelay.disable();
    await bus.stop();
    const segment = (name: string, values: number[]) => {
      const s = summarize(values);
      return `${name} p50 ${format(s.p50, 2)} p99 ${format(s.p99, 2)} max ${format(s.max, 1)}`;
    };
    const indexes = Array.from({ length: total }, (_, index) => index).filter((index) => handled[index]! > 0);
    process.stdout.write(
      `${mode} ${rateText}/s round ${round}: handled ${count}/${total}; ms: ` +
        [
          segment(
            'total',
            indexes.map((i) => handled[i]! - scheduled[i]!),
          ),
          segment(
            'late',
            indexes.map((i) => called[i]! - scheduled[i]!),
          ),
          segment(
            'publish',
            indexes.map((i) => published[i]! - called[i]!),
          ),
          segment(
            'deliver',
            indexes.map((i) => handled[i]! - called[i]!),
          ),
          segment(
            'deliver-after-ack',
            indexes.map((i) => handled[i]! - published[i]!),
          ),
          ...(rememberMs.length > 0 ? [segment('remember', rememberMs)] : []),
        ].join('; ') +
        `; loop delay p99 ${format(loopDelay.percentile(99) / 1e6, 2)} max ${format(loopDelay.max / 1e6, 1)}\n`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
