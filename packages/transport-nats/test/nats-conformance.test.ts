/**
 * The whole conformance suite against a nats-server of this file's own (./private-server.ts).
 * `restart` closes the transport and kill -9s the server, then starts it on the same port and
 * JetStream directory; `dropConnections` does the same under a live transport, which must
 * reconnect by itself (nats-server 2.9 has no request to drop a client's connection).
 *
 * De-duplication by message id is on, as by default: the transport declares
 * `publishDeduplication`, so the idempotency scenario, which re-publishes an identical event,
 * checks that JetStream drops the copy before any consumer sees it.
 */
import { after } from 'node:test';
import { runConformance } from '@herald/conformance';
import { natsTransport } from '@herald/transport-nats';
import { startNatsServer } from './private-server.ts';

const server = await startNatsServer();
after(() => server.stop());

const open = () =>
  natsTransport({
    servers: server.url,
    leaseMs: 2_000,
    // Messages delivered before a crash and not acked come back after this long.
    ackWaitMs: 3_000,
    reconnectDelayMs: 100,
    connectTimeoutMs: 30_000,
  });

runConformance({
  name: 'nats',
  create: open,
  async restart(transport) {
    await transport.close();
    await server.kill('SIGKILL');
    await server.restart();
    return open();
  },
  async dropConnections() {
    await server.kill('SIGKILL');
    await server.restart();
  },
});
