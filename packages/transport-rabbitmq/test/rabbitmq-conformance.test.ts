import { randomUUID } from 'node:crypto';
import type { Transport } from '@herald/bus';
import { runConformance } from '@herald/conformance';
import { RABBITMQ_URL, requireRabbitMq } from '@herald/test-support';
import { type RabbitMqTransport, rabbitMqTransport } from '@herald/transport-rabbitmq';
import { deleteTopology, dropConnections, type TopologyRecord } from './support.ts';

// No broker: the file fails at once saying `run npm run setup`, not after every scenario's connect retries.
await requireRabbitMq();

// One connection name for every transport of this file, so dropConnections hits only them.
const connectionName = `herald-conformance-${process.pid}`;

interface Tracked {
  readonly inner: RabbitMqTransport;
  readonly prefix: string;
  readonly record: TopologyRecord & { cleaned: boolean };
}
const tracked = new WeakMap<Transport, Tracked>();

function open(prefix: string): Promise<RabbitMqTransport> {
  return rabbitMqTransport({
    url: RABBITMQ_URL,
    exchangePrefix: prefix,
    connectionName,
    reconnectDelayMsMax: 1_000,
    // Off by default (it costs every publish an extra routing key): the pattern scenarios need it.
    topicPatterns: true,
  });
}

/** Wraps `inner` so its final close deletes every exchange and queue the scenario declared. */
function track(inner: RabbitMqTransport, prefix: string, record: Tracked['record']): Transport {
  const remember = () => {
    for (const name of inner.topology().exchanges) record.exchanges.add(name);
    for (const name of inner.topology().queues) record.queues.add(name);
  };
  const transport: Transport = {
    name: inner.name,
    features: inner.features,
    publish: (topic, messages) => inner.publish(topic, messages),
    subscribe: (options, handler) => inner.subscribe(options, handler),
    async close() {
      await inner.close();
      remember();
      if (record.cleaned) return;
      record.cleaned = true;
      await deleteTopology(record);
    },
  };
  tracked.set(transport, { inner, prefix, record });
  return transport;
}

runConformance({
  name: 'rabbitmq',
  async create() {
    // A unique prefix per scenario run: names never collide, and clean-up knows what is ours.
    const prefix = `herald-test.${randomUUID().slice(0, 8)}.`;
    return track(await open(prefix), prefix, { exchanges: new Set(), queues: new Set(), cleaned: false });
  },
  // Close the transport and open a new one on the same broker and names: the durable quorum queues
  // keep what was not acked. The same record, so the final close deletes everything once.
  async restart(transport) {
    const previous = tracked.get(transport);
    if (previous === undefined) throw new Error('restart of a transport this file did not create');
    await previous.inner.close();
    for (const name of previous.inner.topology().exchanges) previous.record.exchanges.add(name);
    for (const name of previous.inner.topology().queues) previous.record.queues.add(name);
    return track(await open(previous.prefix), previous.prefix, previous.record);
  },
  async dropConnections() {
    // A drop that closed nothing would make the reconnect scenario pass without testing anything.
    const dropped = await dropConnections(connectionName);
    if (dropped === 0) throw new Error(`no RabbitMQ connection named ${connectionName} to drop`);
  },
});
