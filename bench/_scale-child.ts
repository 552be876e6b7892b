/**
 * The measuring process of `npm run bench -- scale` (not a suite: `bench/run.ts` skips files
 * starting with `_`). `bench/scale.ts` fills a data directory, then starts this file once per
 * measurement so the resident set it reports is the broker's alone, not the filler's:
 *
 *   node --expose-gc bench/_scale-child.ts <mode> <directory> <json options>
 *
 * Modes:
 * - `open`: opens the embedded transport (every topic and partition of the directory), reports
 *   the open time, RSS and heap after a full GC and the descriptors held; then a new group
 *   catches up on the first `consumeTopics` topics (one subscription each) and the rate and peak
 *   RSS are reported.
 * - `bus`: the same catch-up through `createBus` on the bus topic the parent filled.
 * - `recover`: only the open (the parent removed checkpoints and indexes first, so every byte of
 *   the log is validated again), with what recovery scanned.
 *
 * Prints one JSON object on stdout; progress and errors go to stderr.
 */
import { readdirSync } from 'node:fs';
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent } from '@herald/bus';
import { z } from 'zod';

/** What the parent passes as the third argument. */
export interface ChildOptions {
  /** Topic names to catch up on (`open`: one subscription each; `bus`: one topic). */
  readonly topics: readonly string[];
  /** Messages those topics hold: the catch-up ends when that many were handled. */
  readonly messages: number;
  /** Longest catch-up, in ms, before the child gives up (then it exits non-zero). */
  readonly timeoutMs: number;
}

/** What a child prints. */
export interface ChildReport {
  /** RSS before the open (Node, the TypeScript loader, the imported modules) after a full GC, in bytes. */
  readonly rssBytesBeforeOpen: number;
  readonly openMs: number;
  /** RSS right after the open and a full GC, in bytes. */
  readonly rssBytesAfterOpen: number;
  readonly heapBytesAfterOpen: number;
  /** Open file descriptors of the process after the open. */
  readonly descriptorsAfterOpen: number;
  readonly caughtUp?: { readonly messages: number; readonly seconds: number; readonly rssBytesMax: number };
}

/** The event the bus topic holds (its contract must match what `scale.ts` published). */
export const ScaleEvent = defineEvent('ScaleEvent', {
  topic: 'scale-bus',
  schema: z.object({ id: z.number().int(), note: z.string() }),
});

/** Consumer window per subscription: enough to keep the handler busy while reads land. */
const IN_FLIGHT = 1024;
/** How often the peak RSS is sampled during the catch-up. */
const RSS_SAMPLE_MS = 50;

function settledMemory(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed };
}

function descriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return Number.NaN;
  }
}

/** Counts handled messages until `target`, rejecting after `timeoutMs`; samples the peak RSS. */
function catchUp(target: number, timeoutMs: number) {
  let count = 0;
  let rssBytesMax = process.memoryUsage().rss;
  let finish: (() => void) | undefined;
  const sampler = setInterval(() => {
    rssBytesMax = Math.max(rssBytesMax, process.memoryUsage().rss);
  }, RSS_SAMPLE_MS);
  const started = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`caught up on ${count} of ${target} messages within ${timeoutMs} ms`));
    }, timeoutMs);
    finish = () => {
      clearTimeout(timer);
      resolve();
    };
    if (target === 0) finish();
  });
  return {
    add(): void {
      count += 1;
      if (count === target) finish?.();
    },
    async result() {
      try {
        await done;
      } finally {
        clearInterval(sampler);
      }
      const seconds = (performance.now() - started) / 1000;
      return { messages: count, seconds, rssBytesMax: Math.max(rssBytesMax, process.memoryUsage().rss) };
    },
  };
}

async function openAndCatchUp(
  directory: string,
  options: ChildOptions,
  mode: 'open' | 'recover',
): Promise<ChildReport> {
  const before = settledMemory();
  const started = performance.now();
  const transport = await embeddedTransport({ dir: directory });
  const openMs = performance.now() - started;
  try {
    const memory = settledMemory();
    const report = {
      rssBytesBeforeOpen: before.rss,
      openMs,
      rssBytesAfterOpen: memory.rss,
      heapBytesAfterOpen: memory.heap,
      descriptorsAfterOpen: descriptors(),
    };
    if (mode === 'recover') return report;
    const progress = catchUp(options.messages, options.timeoutMs);
    const group = `catch-up-${Date.now()}`;
    for (const topic of options.topics) {
      await transport.subscribe({ topic, group, inFlightMax: IN_FLIGHT }, async (message) => {
        await message.ack();
        progress.add();
      });
    }
    return { ...report, caughtUp: await progress.result() };
  } finally {
    await transport.close();
  }
}

async function busCatchUp(directory: string, options: ChildOptions): Promise<ChildReport> {
  const before = settledMemory();
  const started = performance.now();
  const transport = await embeddedTransport({ dir: directory });
  const openMs = performance.now() - started;
  const memory = settledMemory();
  const bus = createBus({ transport, source: '/bench/scale' });
  try {
    const progress = catchUp(options.messages, options.timeoutMs);
    bus.on(ScaleEvent, { group: `bus-catch-up-${Date.now()}`, concurrency: IN_FLIGHT }, () => progress.add());
    await bus.start();
    return {
      rssBytesBeforeOpen: before.rss,
      openMs,
      rssBytesAfterOpen: memory.rss,
      heapBytesAfterOpen: memory.heap,
      descriptorsAfterOpen: descriptors(),
      caughtUp: await progress.result(),
    };
  } finally {
    await bus.stop();
  }
}

async function main(): Promise<void> {
  const [mode, directory, json] = process.argv.slice(2);
  if (
    (mode !== 'open' && mode !== 'bus' && mode !== 'recover') ||
    directory === undefined ||
    json === undefined
  ) {
    throw new Error(
      'usage: node --expose-gc bench/_scale-child.ts open|bus|recover <directory> <json options>',
    );
  }
  const options = JSON.parse(json) as ChildOptions;
  const report =
    mode === 'bus' ? await busCatchUp(directory, options) : await openAndCatchUp(directory, options, mode);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (import.meta.main) {
  await main();
}
