/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the bus's own CPU
 * per publish, as `_publish-layers.ts bus-noop` measures it, but over several rounds in one
 * process, printing the minimum and the median: on a shared machine one whole run moves by more
 * than the cuts it is meant to show (docs/benchmarks.md, "The bus's publish, fourth pass"). Given
 * another checkout's root, its bus runs in the same process too, the rounds alternating between
 * the two (this checkout first), so both see the same load.
 *
 *   npx node bench/_bus-publish-rounds.ts [rounds=9] [messages=200000] [other checkout]
 *
 * `createBus` over a transport whose publish does nothing, 256 publishers; one unmeasured round
 * per bus warms up first.
 */
import { resolve } from 'node:path';
import type * as BusModule from '../packages/bus/src/index.ts';
import { fromCheckout } from './_checkout.ts';
import { BenchEvent, drivePublishers } from './_fastpath-common.ts';

const [roundsText = '9', totalText = '200000', other] = process.argv.slice(2);
const rounds = Number(roundsText);
const total = Number(totalText);
const PUBLISHERS = 256;

/** A started bus of the checkout at `root` over a no-op transport, and its publish of one event. */
async function noopBus(root: string) {
  const { createBus, memoryTransport } = await fromCheckout<typeof BusModule>(
    'packages/bus/src/index.ts',
    root,
  );
  const inner = memoryTransport();
  const noop: BusModule.Transport = Object.create(inner);
  noop.publish = () => Promise.resolve();
  noop.close = () => inner.close();
  const bus = createBus({ transport: noop, source: '/bench' });
  await bus.start();
  const publishOne = (n: number) =>
    bus.publish(BenchEvent, { id: `order-${n}`, amount: n, note: 'benchmark event' });
  return { root, bus, publishOne, perMessage: [] as number[] };
}

const roots = other === undefined ? ['.'] : ['.', other];
const buses = await Promise.all(roots.map((root) => noopBus(resolve(root))));
try {
  for (const { publishOne } of buses) await drivePublishers(PUBLISHERS, Math.min(total, 50_000), publishOne);
  for (let round = 0; round < rounds; round++) {
    for (const { publishOne, perMessage } of buses) {
      const start = process.cpuUsage();
      await drivePublishers(PUBLISHERS, total, publishOne);
      const used = process.cpuUsage(start);
      perMessage.push((used.user + used.system) / total);
    }
  }
  for (const { root, perMessage } of buses) {
    const sorted = perMessage.toSorted((a, b) => a - b);
    process.stdout.write(
      `${root} bus-noop rounds=${rounds} messages=${total}: min ${sorted[0]!.toFixed(3)} median ${sorted[Math.floor(rounds / 2)]!.toFixed(3)} µs CPU/msg\n`,
    );
  }
} finally {
  for (const { bus } of buses) await bus.stop();
}
