/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the bus catch-up row
 * of `npm run bench -- scale` alone, with the CPU each message costs, so the bus's share can be
 * told from the transport's and profiled with `--cpu-prof`.
 *
 *   npx node bench/_bus-catchup.ts fill <directory> [events]      # once: a `scale-bus` topic of CloudEvents
 *   npx node [--cpu-prof] bench/_bus-catchup.ts bus <directory> [events] [window]   # a new group catches up through createBus
 *   npx node [--cpu-prof] bench/_bus-catchup.ts transport <directory> [events]  # the same through the transport alone
 *   npx node [--cpu-prof] bench/_bus-catchup.ts transport-sync <directory> [events]  # acks without awaiting, as the bus does
 *
 * `window` is the consumer window (the bus's `concurrency`, the transport's `inFlightMax`; default
 * 1024, as in `bench/_scale-child.ts`). `bus` and `transport` print messages/s and µs of CPU (user + system, `process.cpuUsage`) per
 * message: CPU time does not grow when other processes take the cores, so it is the load-robust
 * figure next to the rate. The bus's own cost is the `bus` figure minus the `transport-sync` one:
 * `transport` awaits each ack in the handler's frame, which the bus no longer does (that frame then
 * outlives V8's young generation, so `transport` costs more garbage collection than the bus's
 * delivery path needs).
 */
import { embeddedTransport, openBroker } from '@herald/broker';
import { createBus } from '@herald/bus';
import { format } from './_common.ts';
import { ScaleEvent } from './_scale-child.ts';
import { fillBusTopic } from './scale.ts';

/** The default consumer window, as in `bench/_scale-child.ts`. */
const IN_FLIGHT = 1024;
/** Longest a catch-up may take before the run fails. */
const TIMEOUT_MS = 5 * 60_000;

/** Fills the bus topic with `bench/scale.ts`'s own filler, on 4 partitions. */
async function fill(directory: string, count: number): Promise<void> {
  const broker = await openBroker({ dir: directory, partitions: 4, fsync: 'never' });
  try {
    await broker.createTopic(ScaleEvent.topic, { partitions: 4 });
    await fillBusTopic(broker, count);
  } finally {
    await broker.close();
  }
}

/** Resolves once `add` was called `target` times; rejects after {@link TIMEOUT_MS}. */
function counter(target: number) {
  let count = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`caught up on ${count} of ${target} messages in ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
    finish = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return {
    add(): void {
      count += 1;
      if (count === target) finish();
    },
    done,
  };
}

async function catchUp(
  directory: string,
  mode: 'bus' | 'transport' | 'transport-sync',
  events: string | undefined,
  window: number,
): Promise<void> {
  const transport = await embeddedTransport({ dir: directory });
  const bus = mode === 'bus' ? createBus({ transport, source: '/bench/scale', announce: false }) : undefined;
  let subscription: { close(): Promise<void> } | undefined;
  try {
    const target = Number(events ?? 200_000);
    const progress = counter(target);
    const group = `catch-up-${mode}-${Date.now()}`;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    if (bus !== undefined) {
      bus.on(ScaleEvent, { group, concurrency: window }, () => progress.add());
      await bus.start();
    } else {
      subscription = await transport.subscribe(
        { topic: ScaleEvent.topic, group, inFlightMax: window, types: [ScaleEvent.type] },
        mode === 'transport'
          ? async (message) => {
              await message.ack();
              progress.add();
            }
          : (message) => {
              const acked = message.ack();
              progress.add();
              return acked;
            },
      );
    }
    await progress.done;
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMicros = cpu.user + cpu.system;
    process.stdout.write(
      `${mode} (window ${window}): ${format(target)} messages in ${format(seconds, 2)} s = ${format(target / seconds)} messages/s; ` +
        `CPU ${format(cpuMicros / target, 2)} µs/message (user ${format(cpu.user / target, 2)}, ` +
        `system ${format(cpu.system / target, 2)})\n`,
    );
  } finally {
    await subscription?.close();
    await bus?.stop();
    await transport.close();
  }
}

const [mode, directory, events, windowText] = process.argv.slice(2);
if (directory === undefined)
  throw new Error('usage: bench/_bus-catchup.ts fill|bus|transport|transport-sync <directory> [events]');
if (mode === 'fill') await fill(directory, Number(events ?? 200_000));
else if (mode === 'bus' || mode === 'transport' || mode === 'transport-sync')
  await catchUp(directory, mode, events, Number(windowText ?? IN_FLIGHT));
else throw new Error(`unknown mode "${mode}": fill, bus, transport or transport-sync`);
