/**
 * The whole conformance suite against a real Apache Kafka broker (single-node KRaft, see
 * ./apache-kafka.ts), so a mistake shared by the transport and `herald serve` cannot hide.
 * `restart` closes the transport and kill -9s the broker, then starts it on the same ports and
 * data; `dropConnections` cuts every client connection at the broker's loopback proxy under a
 * live transport, which must reconnect by itself.
 */
import { after } from 'node:test';
import { runConformance } from '@herald/conformance';
import { startApacheKafka } from '@herald/test-support/apache-kafka';
import { kafkaTransport } from '@herald/transport-kafka';

const kafka = await startApacheKafka({ partitions: 4 });
after(() => kafka.stop());

const open = () => kafkaTransport({ brokers: [kafka.bootstrap], clientId: 'conformance', lingerMs: 1 });

runConformance({
  name: 'apache-kafka',
  create: open,
  async restart(transport) {
    await transport.close();
    await kafka.restart();
    return open();
  },
  async dropConnections() {
    kafka.dropConnections();
  },
});
