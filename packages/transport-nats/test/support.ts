/** Test helpers: the shared server's URL, a unique prefix per test, and clean-up. */

import { randomUUID } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { type NatsTransport, type NatsTransportOptions, natsTransport } from '@herald/transport-nats';

/** The server the tests share (`npm run setup` starts it). */
export const NATS_URL =
  process.env.HERALD_NATS_URL ?? `nats://127.0.0.1:${process.env.HERALD_NATS_PORT ?? 4222}`;

/**
 * Throws, naming the address and `npm run setup`, unless the NATS port accepts a connection within
 * 2 s: tests then fail at once instead of waiting on a server that is not there.
 */
export async function requireNats(url: string = NATS_URL): Promise<void> {
  const { hostname, port } = new URL(url);
  const address = `${hostname}:${port || 4222}`;
  await new Promise<void>((resolve, reject) => {
    const socket = connectTcp({ host: hostname, port: Number(port || 4222) });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`NATS is not reachable at ${address} (${reason}): run npm run setup`));
    };
    socket.setTimeout(2_000, () => fail('no answer within 2 s'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Transports of one test file on one unique prefix; `cleanUp` closes them and deletes the prefix's streams. */
export class TestTransports {
  readonly prefix = `herald-test-${randomUUID().slice(0, 8)}`;
  readonly #open: NatsTransport[] = [];

  async open(options: NatsTransportOptions = {}): Promise<NatsTransport> {
    const transport = await natsTransport({
      servers: NATS_URL,
      prefix: this.prefix,
      leaseMs: 1_000,
      ...options,
    });
    this.#open.push(transport);
    return transport;
  }

  async cleanUp(): Promise<void> {
    for (const transport of this.#open.splice(0)) await transport.close();
    const cleaner = await natsTransport({ servers: NATS_URL, prefix: this.prefix });
    try {
      await cleaner.deletePrefix();
    } finally {
      await cleaner.close();
    }
  }
}
