/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the bus's own CPU
 * per publish, as `_publish-layers.ts bus-noop` measures it, but over several rounds in one
 * process, printing the minimum and the median: on a shared machine one whole run moves by more
 * than the cuts it is meant to show (docs/benchmarks.md, "The bus's publish, fourth pass").
 *
 *   npx node bench/_bus-publish-rounds.ts [rounds=9] [messages=200000] [publishers=256]
 *
 * `createBus` over a transport whose publish does nothing; one unmeasured round warms up first.
 */
import { createBus, memoryTransport, type Transport } from '@herald/bus';
import { BenchEvent, drivePublishers } from './_fastpath-common.ts';

const [roundsText = '9', totalText = '200000', publishersText = '256'] = process.argv.slice(2);
const rounds = Number(roundsText);
const total = Number(totalText);
const publishers = Number(publishersText);

const inner = memoryTransport();
const noop: Transport = Object.create(inner);
noop.publish = () => Promise.resolve();
noop.close = () => inner.close();
const bus = createBus({ transport: noop, source: '/bench' });
await bus.start();
try {
  const publishOne = (n: number) =>
    bus.publish(BenchEvent, { id: `order-${n}`, amount: n, note: 'benchmark event' });
  await drivePublishers(publishers, Math.min(total, 50_000), publishOne);
  const perMessage: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.cpuUsage();
    await drivePublishers(publishers, total, publishOne);
    const used = process.cpuUsage(start);
    perMessage.push((used.user + used.system) / total);
  }
  const sorted = perMessage.toSorted((a, b) => a - b);
  process.stdout.write(
    `bus-noop rounds=${rounds} messages=${total}: min ${sorted[0]!.toFixed(3)} median ${sorted[Math.floor(rounds / 2)]!.toFixed(3)} µs CPU/msg\n`,
  );
} finally {
  await bus.stop();
}
