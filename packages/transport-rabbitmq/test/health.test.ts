/**
 * `health()` of the RabbitMQ transport under a bus, against the real local broker: connected and
 * ready after start, disconnected and unready while the connection is dropped broker-side
 * (rabbitmqctl close_connection) and the transport waits to reconnect, connected and ready again
 * after, with the loss kept as the last error, and messages flowing again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createBus, defineEvent, type StandardSchemaV1, silentLogger } from '@herald/bus';
import { eventually, RABBITMQ_URL, requireRabbitMq } from '@herald/test-support';
import { type RabbitMqTransport, rabbitMqTransport } from '@herald/transport-rabbitmq';
import { deleteTopology, dropConnections, type TopologyRecord } from './support.ts';

interface Ping {
  readonly n: number;
}
const schema: StandardSchemaV1<Ping, Ping> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value: unknown) =>
      typeof (value as Partial<Ping> | null)?.n === 'number'
        ? { value: value as Ping }
        : { issues: [{ message: 'not a ping' }] },
  },
};
const Pinged = defineEvent('HealthPinged', { topic: 'health-pings', schema });

/** Long enough that the down state is seen by polling, short enough for a quick test. */
const RECONNECT_DELAY_MS = 3_000;
const record: TopologyRecord = { exchanges: new Set(), queues: new Set() };
const connectionName = `herald-health-test-${process.pid}`;
let transport: RabbitMqTransport | undefined;

after(async () => {
  await transport?.close();
  for (const name of transport?.topology().exchanges ?? []) record.exchanges.add(name);
  for (const name of transport?.topology().queues ?? []) record.queues.add(name);
  await deleteTopology(record);
});

describe('rabbitmq transport - health', { timeout: 120_000 }, () => {
  before(() => requireRabbitMq());

  it('down while the connection is dropped, up and handling again after the reconnect', async () => {
    transport = await rabbitMqTransport({
      url: RABBITMQ_URL,
      exchangePrefix: `herald-health.${randomUUID().slice(0, 8)}.`,
      connectionName,
      reconnectDelayMsMin: RECONNECT_DELAY_MS,
      reconnectDelayMsMax: RECONNECT_DELAY_MS,
    });
    const bus = createBus({ transport, logger: silentLogger, ownsTransport: false });
    const handled: number[] = [];
    bus.on(Pinged, { group: 'watchers' }, (ping) => {
      handled.push(ping.n);
    });
    try {
      await bus.start();
      const up = bus.health();
      assert.deepEqual([up.ready, up.transport.reported, up.transport.connected], [true, true, true]);
      assert.match(up.transport.detail ?? '', /generation 1, 0 reconnects/);

      assert.ok((await dropConnections(connectionName)) > 0, 'rabbitmqctl closed the connection');
      await eventually(
        () => bus.health().transport.connected === false,
        'the transport to report the dropped connection',
      );
      const down = bus.health();
      assert.deepEqual([down.live, down.ready], [true, false], 'live but not ready while reconnecting');
      assert.match(down.transport.detail ?? '', /reconnecting/);
      assert.equal(down.lastError?.source, 'connection');

      await eventually(() => bus.health().ready, 'ready again after the reconnect', 30_000);
      const back = bus.health();
      assert.equal(back.transport.connected, true);
      assert.match(back.transport.detail ?? '', /generation 2, 1 reconnects/);
      assert.match(back.lastError?.message ?? '', /lost/, 'the loss stays the last error');

      await bus.publish(Pinged, { n: 1 });
      await eventually(() => handled.includes(1), 'a ping handled after the reconnect');
    } finally {
      await bus.stop();
    }
    assert.equal(transport.health().connected, true, 'the bus does not own the transport');
    await transport.close();
    assert.deepEqual([transport.health().connected, transport.health().detail], [false, 'closed']);
  });
});
