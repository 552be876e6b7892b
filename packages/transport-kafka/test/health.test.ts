/**
 * `health()` of the Kafka transport under a bus, on `herald serve`: connected and ready after
 * start; killed (-9), the subscription's fetches fail and the transport reports itself
 * disconnected (the bus unready, still live); restarted on the same port and data, fetches
 * succeed again and it is connected and ready, with the failure kept as the last error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Bus, createBus, defineEvent, type StandardSchemaV1, silentLogger } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { type KafkaTransport, kafkaTransport } from '@herald/transport-kafka';
import { startServe } from './support.ts';

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

/** The subscription's fetch backoff tops out well below this; the rejoin after a restart too. */
const RECOVERY_TIMEOUT_MS = 60_000;

test('kafka health - down while herald serve is killed, up again after it restarts', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe(2);
  let transport: KafkaTransport | undefined;
  let bus: Bus | undefined;
  try {
    transport = await kafkaTransport({
      brokers: [serve.bootstrap],
      clientId: 'health',
      logger: silentLogger,
      retryDelayMsMax: 1_000,
    });
    const running = createBus({ transport, logger: silentLogger });
    bus = running;
    const handled: number[] = [];
    running.on(Pinged, { group: 'watchers' }, (ping) => {
      handled.push(ping.n);
    });
    await running.start();
    await running.publish(Pinged, { n: 1 });
    await eventually(() => handled.includes(1), 'the first ping handled');
    const up = running.health();
    assert.deepEqual([up.ready, up.transport.reported, up.transport.connected], [true, true, true]);

    await serve.kill();
    await eventually(
      () => running.health().transport.connected === false,
      'the transport to report the dead broker',
      RECOVERY_TIMEOUT_MS,
    );
    const down = running.health();
    assert.deepEqual([down.live, down.ready], [true, false]);
    assert.match(down.transport.detail ?? '', /failing: .*health-pings\/watchers/);
    assert.ok(down.lastError !== undefined, 'the failure is the last error');

    await serve.restart();
    await eventually(() => running.health().ready, 'ready again after the restart', RECOVERY_TIMEOUT_MS);
    await running.publish(Pinged, { n: 2 });
    await eventually(() => handled.includes(2), 'a ping handled after the restart', RECOVERY_TIMEOUT_MS);
    const back = running.health();
    assert.equal(back.transport.connected, true);
    assert.ok(back.lastError !== undefined, 'the failure stays the last error');
    await running.stop({ timeoutMs: 5_000 });
    assert.deepEqual([transport.health().connected, transport.health().detail], [false, 'closed']);
  } finally {
    await bus?.stop({ timeoutMs: 5_000 });
    await transport?.close();
    await serve.kill().catch(() => {});
  }
});
