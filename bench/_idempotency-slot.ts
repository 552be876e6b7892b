/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the bus's end to end
 * with the SQLite idempotency store (as `_fastpath-profile.ts bus-idempotency e2e`), each
 * delivery's time in its slot split by phase: `seen` (called → answered), the handler (answered →
 * `remember` called), `remember` (called → resolved: the group commit), and the writer's counters.
 * Little's law: messages/s × mean time in the handler pipeline ≈ the slots busy (256 at most).
 *
 *   npx node bench/_idempotency-slot.ts [messages] [store module path]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { embeddedTransport } from '@herald/broker';
import { createBus, type IdempotencyKey } from '@herald/bus';
import { format, summarize } from './_common.ts';
import { BenchEvent, drivePublishers } from './_fastpath-common.ts';

const [totalText = '40000', storeModule] = process.argv.slice(2);
const total = Number(totalText);
const { sqliteIdempotencyStore } = (
  storeModule === undefined
    ? await import('herald')
    : await import(pathToFileURL(path.resolve(storeModule)).href)
) as typeof import('herald');

const root = await mkdtemp(path.join(tmpdir(), 'herald-idempotency-slot-'));
try {
  for (const [round, messages] of [
    [0, Math.min(total, 20_000)],
    [1, total],
  ] as const) {
    const directory = path.join(root, `run-${round}`);
    const store = sqliteIdempotencyStore({ path: path.join(directory, 'idempotency.sqlite') });
    const seenMs: number[] = [];
    // Handlers between their `seen` call and their `remember`'s resolution, and messages
    // published and not yet handled: sampled each millisecond (as often as the loop allows).
    let inPipeline = 0;
    let published = 0;
    const inPipelineSamples: number[] = [];
    const backlogSamples: number[] = [];
    const handlerMs: number[] = [];
    const rememberMs: number[] = [];
    const answeredAt = new Map<string, number>();
    const timed = {
      name: store.name,
      close: store.close.bind(store),
      seen: async (key: IdempotencyKey) => {
        inPipeline += 1;
        const startedMs = performance.now();
        const seen = await store.seen(key);
        const nowMs = performance.now();
        seenMs.push(nowMs - startedMs);
        answeredAt.set(key.id, nowMs);
        return seen;
      },
      remember: async (key: IdempotencyKey) => {
        const startedMs = performance.now();
        handlerMs.push(startedMs - (answeredAt.get(key.id) ?? startedMs));
        answeredAt.delete(key.id);
        await store.remember(key);
        inPipeline -= 1;
        rememberMs.push(performance.now() - startedMs);
      },
    };
    const bus = createBus({
      transport: await embeddedTransport({ dir: directory }),
      source: '/bench',
      idempotency: timed,
    });
    let handled = 0;
    let resolveDone = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    bus.on(BenchEvent, { group: 'bench', concurrency: 256 }, () => {
      if (++handled === messages) resolveDone();
    });
    await bus.start();
    const before = { ...store.writerStats };
    const cpuStart = process.cpuUsage();
    const startedMs = performance.now();
    const sampler = setInterval(() => {
      inPipelineSamples.push(inPipeline);
      backlogSamples.push(published - handled);
    }, 1);
    await drivePublishers(256, messages, async (n) => {
      await bus.publish(BenchEvent, { id: `order-${n}`, amount: n, note: 'benchmark event' });
      published += 1;
    });
    await done;
    clearInterval(sampler);
    const ms = performance.now() - startedMs;
    const cpu = process.cpuUsage(cpuStart);
    const after = { ...store.writerStats };
    await bus.stop();
    if (round === 0) continue;
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const rate = (messages / ms) * 1000;
    const slotMs = mean(seenMs) + mean(handlerMs) + mean(rememberMs);
    const commits = after.commits - before.commits;
    const line = (name: string, values: number[]) => {
      const s = summarize(values);
      return `  ${name}: mean ${format(mean(values), 3)} p50 ${format(s.p50, 3)} p99 ${format(s.p99, 3)} ms`;
    };
    process.stdout.write(
      `${[
        `bus-idempotency e2e: ${format(rate)} msg/s, ${((cpu.user + cpu.system) / messages).toFixed(2)} µs CPU/msg`,
        line('seen', seenMs),
        line('handler (seen answered → remember called)', handlerMs),
        line('remember', rememberMs),
        `  sampled: handlers in seen → remember mean ${format(mean(inPipelineSamples), 1)} (of 256 slots); ` +
          `published, not yet handled mean ${format(mean(backlogSamples), 1)}, max ${format(Math.max(...backlogSamples))} ` +
          `(${inPipelineSamples.length} samples)`,
        `  Little: rate × (seen + handler + remember) = ${format((rate * slotMs) / 1000, 1)} slots busy`,
        `  writer: ${commits} commits, ${format((after.keys - before.keys) / commits, 1)} keys/commit, ` +
          `insert ${format((after.insertMs - before.insertMs) / commits, 3)} ms, COMMIT ${format((after.commitMs - before.commitMs) / commits, 3)} ms per commit, ` +
          `commits busy ${format(((after.commitMs - before.commitMs + after.insertMs - before.insertMs) / ms) * 100, 1)}% of the run`,
        `  per batch: waited to be taken ${format((after.queuedMs - before.queuedMs) / (after.batches - before.batches), 3)} ms ` +
          `(${format((after.batches - before.batches) / commits, 2)} batches per commit); answer waited for the event loop ` +
          `${format((after.answerMs - before.answerMs) / commits, 3)} ms per commit`,
      ].join('\n')}\n`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
