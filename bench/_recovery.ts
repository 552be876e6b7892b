/**
 * The recovery row of `npm run bench -- scale` alone, to time one checkout's recovering open
 * against another's on the same data (the leading `_` keeps it out of `bench/run.ts`'s suites):
 *
 *   npx node bench/_recovery.ts <checkout> fill <directory> [events]   # 100 topics × 4 partitions
 *   npx node bench/_recovery.ts <checkout> recover <directory>
 *
 * `recover` removes every `partition.checkpoint`, `.index` and `.timeindex` (as `bench/scale.ts`
 * does, as after a crash before the first checkpoint), then opens the embedded transport of
 * `<checkout>` (its modules, through `bench/_checkout.ts`) over the directory and prints one JSON
 * line: the open's wall time, the process's user and system CPU during it, and each thread's
 * CPU from `/proc/self/task` (the main thread against the checksum workers). It closes the
 * transport afterwards, untimed, so the next run starts from a clean close like the scale suite.
 */
import type * as BrokerModule from '@herald/broker';
import { fromCheckout } from './_checkout.ts';
import { CPU_TICK_US, threadCpuTicks } from './_common.ts';
import { forgetIndexes } from './scale.ts';

const TOPICS = 100;
const PARTITIONS = 4;
const MESSAGE_BYTES = 100;
const BATCH_MESSAGES = 100;
const CALLS_OUTSTANDING = 32;

/** CPU ms of each thread of this process by name, the main thread as `main`. */
function threadCpuMs(): Record<string, number> {
  const threads: Record<string, number> = {};
  for (const [thread, ticks] of threadCpuTicks() ?? []) {
    const [name, task] = thread.split('#') as [string, string];
    const key = task === String(process.pid) ? 'main' : name;
    threads[key] = (threads[key] ?? 0) + (ticks * CPU_TICK_US) / 1000;
  }
  return threads;
}

async function main(): Promise<void> {
  const [, mode, directory, events] = process.argv.slice(2);
  if ((mode !== 'fill' && mode !== 'recover') || directory === undefined) {
    throw new Error('usage: npx node bench/_recovery.ts <checkout> fill|recover <directory> [events]');
  }
  const broker = await fromCheckout<typeof BrokerModule>('packages/broker/src/index.ts');
  if (mode === 'fill') {
    const total = Number(events ?? 10_000_000);
    const handle = await broker.openBroker({ dir: directory, partitions: PARTITIONS, fsync: 'never' });
    try {
      for (let topic = 0; topic < TOPICS; topic++)
        await handle.createTopic(`scale-${topic}`, { partitions: PARTITIONS });
      const body = new Uint8Array(MESSAGE_BYTES).fill(7);
      const batch = Array.from({ length: BATCH_MESSAGES }, () => ({ key: undefined, headers: {}, body }));
      const calls = Math.ceil(total / BATCH_MESSAGES);
      let next = 0;
      const worker = async (): Promise<void> => {
        // Bounded by `calls`.
        while (next < calls) {
          const call = next++;
          await handle.publish(`scale-${call % TOPICS}`, batch);
        }
      };
      await Promise.all(Array.from({ length: CALLS_OUTSTANDING }, worker));
    } finally {
      await handle.close();
    }
    return;
  }
  const removed = forgetIndexes(directory);
  const cpuBefore = process.cpuUsage();
  const threadsBefore = threadCpuMs();
  const started = performance.now();
  const startedMicros = process.hrtime.bigint() / 1000n;
  const transport = await broker.embeddedTransport({ dir: directory });
  const openMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const threadsAfter = threadCpuMs();
  const threads = Object.fromEntries(
    Object.entries(threadsAfter).map(([name, ms]) => [name, ms - (threadsBefore[name] ?? 0)]),
  );
  if (process.env.RECOVERY_NO_CLOSE === '1') {
    // Profiling the open alone (`perf record`): exit without the close's checkpoint and index
    // writes. The locks left behind are taken over by the next run, as after a kill.
    // The open's window on the monotonic clock `--cpu-prof` timestamps use, in µs.
    const window = [String(startedMicros), String(process.hrtime.bigint() / 1000n)];
    process.stdout.write(`${JSON.stringify({ openMs: Math.round(openMs), window })}\n`);
    process.exit(0);
  }
  await transport.close();
  process.stdout.write(
    `${JSON.stringify({
      removed,
      openMs: Math.round(openMs),
      userMs: Math.round(cpu.user / 1000),
      systemMs: Math.round(cpu.system / 1000),
      threads,
    })}\n`,
  );
}

await main();
