/**
 * Service announcements on `herald.services`: a started bus announces its service, contracts and
 * handlers, again on its interval and soon after publishing a new type, and `leaving` on stop;
 * `announce: false` publishes nothing there; announcements do not count as the bus's publishes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { eventually } from '@herald/test-support';
import {
  ANNOUNCEMENT_TYPE,
  announcementOf,
  ConfigurationError,
  createBus,
  decodeEnvelope,
  HERALD_VERSION,
  memoryTransport,
  type ReceivedMessage,
  SERVICES_TOPIC,
  type ServiceAnnouncement,
  silentLogger,
  type Transport,
} from '../src/index.ts';
import { InventoryReserved, OrderCreated, ReserveInventory } from './fixtures.ts';

/** Every announcement published on `transport` from now on. */
async function announcements(transport: Transport): Promise<ServiceAnnouncement[]> {
  const seen: ServiceAnnouncement[] = [];
  await transport.subscribe(
    { topic: SERVICES_TOPIC, group: 'reader', inFlightMax: 16 },
    async (message: ReceivedMessage) => {
      const envelope = decodeEnvelope(message);
      assert.equal(envelope.type, ANNOUNCEMENT_TYPE);
      const announcement = announcementOf(envelope);
      assert.ok(announcement, 'a well-formed announcement');
      seen.push(announcement);
      await message.ack();
    },
  );
  return seen;
}

describe('bus - service announcements', { timeout: 60_000 }, () => {
  it('announcements - start announces the service, its contracts and handlers; stop announces leaving', async () => {
    const transport = memoryTransport();
    const seen = await announcements(transport);
    const bus = createBus({
      transport,
      source: '/shop/order',
      logger: silentLogger,
      ownsTransport: false,
      announce: { sends: [OrderCreated] },
    });
    bus.on(InventoryReserved, { group: 'orders', concurrency: 4 }, () => undefined);
    bus.handle(ReserveInventory, () => undefined);
    await bus.start();
    // start() resolves once the first announcement is published.
    assert.equal(seen.length, 1);
    const up = seen[0]!;
    assert.equal(up.service, 'order');
    assert.equal(up.state, 'up');
    assert.equal(up.source, '/shop/order');
    assert.equal(up.transport, 'memory');
    assert.equal(up.heraldVersion, HERALD_VERSION);
    assert.deepEqual(up.publishes, [{ type: 'OrderCreated', topic: 'orders', kind: 'event' }]);
    assert.deepEqual(
      [...up.handlers].sort((a, b) => a.group.localeCompare(b.group)),
      [
        { topic: 'inventory', group: 'orders', types: ['InventoryReserved'] },
        { topic: 'commands.ReserveInventory', group: 'ReserveInventory', types: ['ReserveInventory'] },
      ],
    );
    await bus.stop();
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.state, 'leaving');
    assert.equal(seen[1]!.instanceId, up.instanceId);
    assert.equal(bus.stats().published, 0, 'announcements are not counted as publishes');
    await transport.close();
  });

  it('announcements - repeated every intervalMs, and within a second of publishing a new type', async () => {
    const transport = memoryTransport();
    const seen = await announcements(transport);
    const bus = createBus({
      transport,
      source: '/shop/inventory',
      logger: silentLogger,
      ownsTransport: false,
      announce: { service: 'stock', intervalMs: 200 },
    });
    await bus.start();
    assert.deepEqual(seen[0]!.publishes, []);
    assert.equal(seen[0]!.service, 'stock');
    await eventually(() => seen.length >= 3, 'two more announcements on the 200 ms interval', 10_000);
    await bus.publish(InventoryReserved, { orderId: 'o-1' });
    await eventually(
      () => seen.some((entry) => entry.publishes.some((contract) => contract.type === 'InventoryReserved')),
      'an announcement with the newly published type',
      10_000,
    );
    await bus.stop();
    const count = seen.length;
    assert.equal(seen.at(-1)!.state, 'leaving');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(seen.length, count, 'no announcement after stop');
    await transport.close();
  });

  it('announcements - announce: false publishes nothing on herald.services', async () => {
    const transport = memoryTransport();
    const seen = await announcements(transport);
    const bus = createBus({ transport, logger: silentLogger, ownsTransport: false, announce: false });
    bus.on(OrderCreated, { group: 'billing' }, () => undefined);
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o-1', total: 1 });
    await bus.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(seen, []);
    await transport.close();
  });

  it('announcements - a bad interval is refused at createBus; a failing publish never fails start or stop', async () => {
    assert.throws(
      () => createBus({ transport: memoryTransport(), announce: { intervalMs: 5 } }),
      (error: unknown) => error instanceof ConfigurationError && /announce\.intervalMs/.test(error.message),
    );
    const inner = memoryTransport();
    const warnings: string[] = [];
    const failing: Transport = {
      name: inner.name,
      features: inner.features,
      publish: async (topic, messages) => {
        if (topic === SERVICES_TOPIC) throw new Error('broker refuses');
        return inner.publish(topic, messages);
      },
      subscribe: (options, handler) => inner.subscribe(options, handler),
      close: (options) => inner.close(options),
    };
    const logger = { ...silentLogger, warn: (_fields: object, message: string) => warnings.push(message) };
    const bus = createBus({ transport: failing, logger });
    await bus.start();
    await bus.stop();
    assert.equal(warnings.length, 2, `a warning each for up and leaving: ${warnings.join('; ')}`);
    assert.match(warnings[0]!, /announce: false/);
  });

  it('announcements - a reader drops malformed entries and refuses what is no announcement', () => {
    const envelope = (data: unknown, type = ANNOUNCEMENT_TYPE) => ({
      specversion: '1.0' as const,
      id: 'a-1',
      source: '/x',
      type,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      dataversion: 1,
      extensions: {},
      data,
    });
    const read = announcementOf(
      envelope({
        service: 'shop',
        instanceId: 'i-1',
        state: 'up',
        publishes: [{ type: 'Placed', topic: 'placed', kind: 'event' }, { type: 3 }, null],
        handlers: [{ topic: 'placed', group: 'g', types: ['Placed', 7] }, {}],
      }),
    );
    assert.deepEqual(read?.publishes, [{ type: 'Placed', topic: 'placed', kind: 'event' }]);
    assert.deepEqual(read?.handlers, [{ topic: 'placed', group: 'g', types: ['Placed'] }]);
    assert.equal(read?.intervalMs, 30_000);
    assert.equal(announcementOf(envelope({ service: 'shop', instanceId: 'i-1', state: 'gone' })), undefined);
    assert.equal(announcementOf(envelope(null)), undefined);
    assert.equal(
      announcementOf(envelope({ service: 'x', instanceId: 'y', state: 'up' }, 'Other')),
      undefined,
    );
  });

  it('announcements - HERALD_VERSION is the package version', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(HERALD_VERSION, manifest.version);
  });
});
