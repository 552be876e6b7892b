/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): one layer of the
 * embedded write and delivery paths at a time, so a CPU profile of each can be read per message.
 * Prints wall time, messages/s and CPU µs per message (user + system, whole process, and each),
 * and on Linux a second line with the CPU per message of each kind of thread (from
 * `/proc/self/task`): the main thread, V8's platform workers (parallel and concurrent GC,
 * background compilation), libuv's pool (file system calls), worker threads (the SQLite store's
 * writer and checkpointer).
 *
 *   npx node [--cpu-prof --cpu-prof-dir=DIR] bench/_fastpath-profile.ts \
 *     <log|transport|bus|bus-idempotency> <publish|e2e> <publishers> <messages> [handler wait ms]
 *
 * `log` appends 100-byte records to one partition (`fsync: 'always'`, no consumer); `transport`
 * publishes 100-byte messages with unique keys to `embeddedTransport` (4 partitions); `bus`
 * publishes a small zod-validated event through `createBus` over it (`bus-idempotency`: with the
 * SQLite idempotency store `herald`'s `createBus` adds by default). `e2e` adds one group (256 in
 * flight) that acks each message; the round ends when every message is handled. One unmeasured
 * round of up to 20,000 messages warms up first; each round uses a fresh temp directory.
 * `handler wait ms` (bus layers, `e2e`): the handler awaits a timer of that long before it returns,
 * so each delivery holds its slot that much longer: what a store's latency costs, without its work.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { createBus } from '@herald/bus';
import { openPartition } from '@herald/log';
import { sqliteIdempotencyStore } from 'herald';
import { CPU_TICK_US, threadCpuTicks } from './_common.ts';
import { BenchEvent, drivePublishers } from './_fastpath-common.ts';

const [
  layer = 'transport',
  mode = 'publish',
  publishersText = '256',
  totalText = '100000',
  handlerWaitText = '0',
] = process.argv.slice(2);
const handlerWaitMs = Number(handlerWaitText);
const publishers = Number(publishersText);
const total = Number(totalText);
const IN_FLIGHT = 256;

const drive = (messages: number, publishOne: (n: number) => Promise<unknown>): Promise<void> =>
  drivePublishers(publishers, messages, publishOne);

/** Resolves once `add` was called `target` times. */
function handledCounter(target: number) {
  let handled = 0;
  let resolveDone = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  return {
    done,
    add() {
      if (++handled === target) resolveDone();
    },
  };
}

async function round(
  directory: string,
  messages: number,
): Promise<{ ms: number; cpuUs: number; userUs: number; systemUs: number; threadUs: Map<string, number> }> {
  const counter = handledCounter(messages);
  let run: () => Promise<void>;
  let close: () => Promise<void>;
  if (layer === 'log') {
    const partition = await openPartition({ directory, fsync: 'always' });
    const value = Buffer.alloc(100, 1);
    run = () => drive(messages, () => partition.append([{ value }]));
    close = () => partition.close();
  } else if (layer === 'transport') {
    const transport = await embeddedTransport({ dir: directory });
    if (mode === 'e2e')
      await transport.subscribe(
        { topic: 'bench', group: 'bench', inFlightMax: IN_FLIGHT },
        async (message) => {
          await message.ack();
          counter.add();
        },
      );
    const body = new Uint8Array(100).fill(7);
    run = () => drive(messages, (n) => transport.publish('bench', [{ key: `k-${n}`, headers: {}, body }]));
    close = () => transport.close();
  } else {
    const bus = createBus({
      transport: await embeddedTransport({ dir: directory }),
      source: '/bench',
      ...(layer === 'bus-idempotency'
        ? { idempotency: sqliteIdempotencyStore({ path: join(directory, 'idempotency.sqlite') }) }
        : {}),
    });
    if (mode === 'e2e')
      bus.on(
        BenchEvent,
        { group: 'bench', concurrency: IN_FLIGHT },
        handlerWaitMs > 0
          ? async () => {
              await new Promise((resolve) => setTimeout(resolve, handlerWaitMs));
              counter.add();
            }
          : () => counter.add(),
      );
    await bus.start();
    run = () =>
      drive(messages, (n) =>
        bus.publish(BenchEvent, { id: `order-${n}`, amount: n, note: 'benchmark event' }),
      );
    close = () => bus.stop();
  }
  const threadsStart = threadCpuTicks();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  await run();
  if (mode === 'e2e' && layer !== 'log') await counter.done;
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const threads = threadCpuTicks();
  // Per kind of thread; a thread started during the round (the store's) counts from zero.
  const threadUs = new Map<string, number>();
  for (const [thread, ticks] of threads ?? []) {
    const kind = thread.slice(0, thread.lastIndexOf('#'));
    const us = (ticks - (threadsStart?.get(thread) ?? 0)) * CPU_TICK_US;
    threadUs.set(kind, (threadUs.get(kind) ?? 0) + us);
  }
  await close();
  return { ms, cpuUs: cpu.user + cpu.system, userUs: cpu.user, systemUs: cpu.system, threadUs };
}

const directory = await mkdtemp(join(tmpdir(), 'herald-fastpath-profile-'));
try {
  await round(join(directory, 'warm'), Math.min(total, 20_000));
  const result = await round(join(directory, 'measured'), total);
  const line = `${layer} ${mode} publishers=${publishers}: ${Math.round((total / result.ms) * 1000)} msg/s, ${(result.cpuUs / total).toFixed(2)} µs CPU/msg (user ${(result.userUs / total).toFixed(2)}, system ${(result.systemUs / total).toFixed(2)})`;
  process.stdout.write(`${line}\n`);
  if (result.threadUs.size > 0) {
    const parts = [...result.threadUs]
      .filter(([, us]) => us > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([kind, us]) => `${kind} ${(us / total).toFixed(2)}`);
    process.stdout.write(
      `  threads, µs CPU/msg (±${(CPU_TICK_US / total).toFixed(2)}): ${parts.join(', ')}\n`,
    );
  }
} finally {
  await rm(directory, { recursive: true, force: true });
}
