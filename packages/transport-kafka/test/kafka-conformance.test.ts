/**
 * The whole conformance suite against `herald serve` (a child process on a free port and a temp
 * data dir). `restart` closes the transport, kills the server with SIGKILL, starts it again on the
 * same port and data and opens a new transport; `dropConnections` kills and restarts the server
 * under a live transport, which must reconnect by itself.
 */
import { after } from 'node:test';
import { runConformance } from '@herald/conformance';
import { kafkaTransport } from '@herald/transport-kafka';
import { startServe } from './support.ts';

const serve = await startServe(4);
after(() => serve.stop());

const open = () => kafkaTransport({ brokers: [serve.bootstrap], clientId: 'conformance', lingerMs: 1 });

runConformance({
  name: 'kafka',
  create: open,
  async restart(transport) {
    await transport.close();
    await serve.restart();
    return open();
  },
  async dropConnections() {
    await serve.restart();
  },
});
