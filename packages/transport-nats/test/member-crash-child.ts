/**
 * A group member in a process of its own, for transport.test.ts: subscribes to the topic and group
 * given as arguments on the server at HERALD_NATS_URL with prefix HERALD_NATS_PREFIX, holds every
 * message without settling it, prints `ready` once subscribed and `held <id>` per delivery, and
 * waits to be killed.
 */
import { natsTransport } from '@herald/transport-nats';

const [topic, group] = process.argv.slice(2) as [string, string];
const transport = await natsTransport({
  servers: process.env.HERALD_NATS_URL!,
  prefix: process.env.HERALD_NATS_PREFIX!,
  leaseMs: 1_000,
  ackWaitMs: 2_000,
});
await transport.subscribe({ topic, group, inFlightMax: 64 }, async (message) => {
  process.stdout.write(`held ${message.headers['x-conformance-id']}\n`);
});
process.stdout.write('ready\n');
// Stays alive (the subscription's timers keep it) until the test kills it with SIGKILL.
