/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): the publish path
 * with one thing taken away or added at a time, so the CPU each layer adds per message can be read
 * by difference (docs/benchmarks.md, "The publish path, second pass"). Prints messages/s and CPU
 * µs per message (user + system, whole process, and each).
 *
 *   npx node bench/_publish-layers.ts <case> [publishers=256] [messages=200000]
 *
 * Cases: `log` (one partition, 100-byte records, `fsync: 'always'`); `transport-1` and
 * `transport-4` (`embeddedTransport` with 1 or 4 partitions, 100-byte bodies, unique keys, no
 * headers); `transport-4-headers` (the same with the 9 headers the bus sets on an event);
 * `bus-noop` (the bus's own work: `createBus` over a transport whose publish does nothing). One
 * unmeasured round of 20,000 messages warms up first; each round uses a fresh temp directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { createBus, memoryTransport, type Transport } from '@herald/bus';
import { openPartition } from '@herald/log';
import { BenchEvent, drivePublishers } from './_fastpath-common.ts';

const [which = 'transport-4', publishersText = '256', totalText = '200000'] = process.argv.slice(2);
const publishers = Number(publishersText);
const total = Number(totalText);

const drive = (messages: number, publishOne: (n: number) => Promise<unknown>): Promise<void> =>
  drivePublishers(publishers, messages, publishOne);

/** The headers `encodeEnvelope` sets on a bus event, with this message's id and key. */
function busHeaders(n: number): Record<string, string> {
  const id = `0193a5b2-7c1d-7e4f-8a9b-${String(n).padStart(12, '0')}`;
  return {
    'content-type': 'application/json',
    ce_specversion: '1.0',
    ce_id: id,
    ce_source: '/bench',
    ce_type: 'BenchEvent',
    ce_time: '2026-12-03T07:38:03.123Z',
    ce_partitionkey: `order-${n}`,
    ce_correlationid: id,
    ce_dataversion: '1',
  };
}

async function round(directory: string, messages: number) {
  let run: () => Promise<void>;
  let close: () => Promise<void>;
  if (which === 'log') {
    const partition = await openPartition({ directory, fsync: 'always' });
    const value = Buffer.alloc(100, 1);
    run = () => drive(messages, () => partition.append([{ value }]));
    close = () => partition.close();
  } else if (which === 'bus-noop') {
    const inner = memoryTransport();
    const noop: Transport = Object.create(inner);
    noop.publish = () => Promise.resolve();
    noop.close = () => inner.close();
    const bus = createBus({ transport: noop, source: '/bench' });
    await bus.start();
    run = () =>
      drive(messages, (n) =>
        bus.publish(BenchEvent, { id: `order-${n}`, amount: n, note: 'benchmark event' }),
      );
    close = () => bus.stop();
  } else {
    const partitions = which === 'transport-1' ? 1 : 4;
    const withHeaders = which === 'transport-4-headers';
    const transport = await embeddedTransport({ dir: directory, partitions });
    const body = new Uint8Array(100).fill(7);
    run = () =>
      drive(messages, (n) =>
        transport.publish('bench', [{ key: `k-${n}`, headers: withHeaders ? busHeaders(n) : {}, body }]),
      );
    close = () => transport.close();
  }
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  await close();
  return { ms, cpu };
}

const directory = await mkdtemp(join(tmpdir(), 'herald-publish-layers-'));
try {
  await round(join(directory, 'warm'), Math.min(total, 20_000));
  const { ms, cpu } = await round(join(directory, 'measured'), total);
  const perMessage = (us: number) => (us / total).toFixed(2);
  process.stdout.write(
    `${which} publishers=${publishers}: ${Math.round((total / ms) * 1000)} msg/s, ${perMessage(cpu.user + cpu.system)} µs CPU/msg (user ${perMessage(cpu.user)}, system ${perMessage(cpu.system)})\n`,
  );
} finally {
  await rm(directory, { recursive: true, force: true });
}
