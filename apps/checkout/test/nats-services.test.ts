/**
 * The checkout as seven OS processes sharing one NATS JetStream server (`HERALD_TRANSPORT=nats npm
 * run service -- <name>` each), driven through the order API; mid-run the inventory process is
 * killed with SIGKILL and started again. Every invariant must hold: no oversell, no lost or
 * duplicated confirmation. Needs the local nats-server with JetStream (`npm run setup` starts it).
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { type NatsTransport, natsTransport } from '@herald/transport-nats';
import { runCheckoutScenario } from './support/scenario.ts';
import { deadLettersOnTopics, killStragglers, type ServiceOptions } from './support/services.ts';

const URL = process.env.HERALD_NATS_URL ?? `nats://127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;
const PREFIX = `herald-test-ck-${randomUUID().slice(0, 8)}`;

/** Short leases and ack waits: the killed member's partitions move, and its unacked messages come back, within seconds. */
const OPTIONS: ServiceOptions = {
  transport: 'nats',
  env: {
    HERALD_NATS_URL: URL,
    HERALD_NATS_PREFIX: PREFIX,
    HERALD_NATS_LEASE_MS: '2000',
    HERALD_NATS_ACK_WAIT_MS: '5000',
  },
};

/** A transport on this run's prefix (for dead letters and clean-up). */
function runTransport(): Promise<NatsTransport> {
  return natsTransport({ servers: URL, prefix: PREFIX });
}

// The scenario kills its processes itself; this also covers a test that timed out mid-run.
after(async () => {
  killStragglers();
  const transport = await runTransport().catch(() => undefined);
  if (transport !== undefined) {
    await transport.deletePrefix().catch(() => 0);
    await transport.close();
  }
});

/** Fails at once, saying `run npm run setup`, unless the NATS port accepts a connection within 2 s. */
function requireNats(): Promise<void> {
  const { hostname, port } = new globalThis.URL(URL);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port || 4222) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`NATS is not reachable at ${hostname}:${port} (${reason}): run npm run setup`));
    };
    socket.setTimeout(2_000, () => fail('no answer within 2 s'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Dead letters of every topic this run used, read through `bus.deadLetters`. */
async function countDeadLetters(): Promise<number> {
  const lister = await runTransport();
  const topics = await lister.listTopics().finally(() => lister.close());
  return deadLettersOnTopics(
    await runTransport(),
    topics.filter((topic) => !topic.endsWith('.dlq')),
  );
}

describe('checkout - services as separate processes on NATS JetStream', { timeout: 600_000 }, () => {
  it('seven service processes share the server; inventory killed -9 and restarted mid-run; every invariant holds', {
    timeout: 180_000,
  }, async (t) => {
    await requireNats();
    await runCheckoutScenario(t, {
      name: 'nats',
      services: OPTIONS,
      orders: 150,
      ratePerSecond: 50,
      seed: 13,
      deadLetters: async () => ({ count: countDeadLetters }),
    });
  });
});
