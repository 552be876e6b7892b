import { randomUUID } from 'node:crypto';
import { Collector, idOf, makeMessages, publishAll } from '@herald/conformance';
import { redisTransport } from '@herald/transport-redis';

const transport = await redisTransport({ keyPrefix: `herald-test:dbg-${randomUUID().slice(0, 6)}:` });
const topic = 't1';
const first = new Collector();
const second = new Collector();
let t0 = performance.now();
await transport.subscribe({ topic, group: 'inventory', inFlightMax: 8 }, first.handler);
await transport.subscribe({ topic, group: 'notification', inFlightMax: 8 }, second.handler);
console.log('subs', performance.now() - t0);
const messages = makeMessages(100, 'm', (index) => `k${index % 7}`);
t0 = performance.now();
await publishAll(transport, topic, messages);
console.log('pub', performance.now() - t0);
for (let i = 0; i < 60; i++) {
  await new Promise((r) => setTimeout(r, 50));
  console.log(Math.round(performance.now() - t0), first.acked.length, second.acked.length);
  if (first.acked.length === 100 && second.acked.length === 100) break;
}
await transport.close();
