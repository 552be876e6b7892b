import { cp, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mock } from 'node:test';
import { type Broker, openBroker } from '@herald/broker';
import type { ReceivedMessage } from '@herald/bus';

const realSetTimeout = globalThis.setTimeout;
if (process.env.MOCK) mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_800_000_000_000 });
const variant = process.argv[2] ?? 'full';
const got: ReceivedMessage[] = [];
let dir = await mkdtemp(path.join(tmpdir(), 'jr-'));
let broker: Broker = await openBroker({ dir, partitions: 2, visibilityTimeoutMs: 30000 });
const sub = (b: Broker) =>
  b.subscribe({ topic: 't', group: 'g', inFlightMax: 1 }, async (m) => {
    got.push(m);
    console.log('deliver', m.headers['x-id'], m.partition, m.offset, m.deliveryAttempt);
  });
const wait = () => new Promise((r) => realSetTimeout(r, 300));
const crash = async () => {
  const copy = await mkdtemp(path.join(tmpdir(), 'jr-'));
  await cp(dir, copy, { recursive: true, filter: (s) => path.basename(s) !== 'herald.lock' });
  console.log('files', await readdir(dir));
  await broker.close();
  dir = copy;
  broker = await openBroker({ dir, partitions: 2, visibilityTimeoutMs: 30000 });
  await sub(broker);
  await wait();
};
const restart = async () => {
  await broker.close();
  broker = await openBroker({ dir, partitions: 2, visibilityTimeoutMs: 30000 });
  await sub(broker);
  await wait();
};
await sub(broker);
await broker.publish('t', [{ key: 'a', headers: { 'x-id': 'm1' }, body: new Uint8Array(1) }]);
await wait();
if (variant.includes('nack')) {
  await got.at(-1)!.nack({ delayMs: 60000 });
  console.log('nacked');
  await wait();
}
if (variant.includes('tick')) {
  mock.timers.tick(60000);
  await wait();
}
if (variant.includes('restart')) {
  console.log('restart');
  await restart();
}
if (variant.includes('crash1')) {
  console.log('crash');
  await crash();
}
console.log('ack', got.at(-1)!.headers['x-id']);
await got.at(-1)!.ack();
console.log('crash');
await crash();
console.log(await broker.describeGroup('t', 'g'));
await broker.close();
process.exit(0);
