/**
 * The topology over an embedded broker, without a browser: a producer-only service, a
 * consumer-only service and a service with a command handler are drawn from their announcements;
 * a rate appears once two samples span traffic; a bus that stops drops out as `leaving`; a silent
 * instance (no `leaving`, announcement too old) counts as silent; beyond 200 topics only the
 * first are sampled, undeclared ones first. And the rate window on its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { embeddedTransport } from '@herald/broker';
import {
  createBus,
  defineCommand,
  defineEvent,
  SERVICES_TOPIC,
  SERVICES_TOPIC_RETENTION_MS,
  SERVICES_TOPIC_SEGMENT_MS,
  type StandardSchemaV1,
  silentLogger,
  type Transport,
} from '@herald/bus';
import { targetOfBroker } from '@herald/cli/internal';
import { eventually, temporaryDirectory } from '@herald/test-support';
import { RateWindow, TOPOLOGY_SAMPLED_TOPICS_MAX, topology } from '../src/topology.ts';

/** Accepts `{ id: string }`, so the test needs no validation library. */
const withId: StandardSchemaV1<{ id: string }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) =>
      typeof (value as { id?: unknown })?.id === 'string'
        ? { value: value as { id: string } }
        : { issues: [{ message: 'id must be a string' }] },
  },
};
const Placed = defineEvent('Placed', { topic: 'placed', schema: withId, key: (data) => data.id });
const Ship = defineCommand('Ship', { schema: withId, key: (data) => data.id });

test('topology - services from announcements, live rates, lag, leaving', { timeout: 60_000 }, async () => {
  const transport = await embeddedTransport({ dir: temporaryDirectory('herald-topology-'), partitions: 1 });
  const target = targetOfBroker(transport.broker);
  const common = { transport, ownsTransport: false, logger: silentLogger } as const;
  // shop only publishes and sends; stats only consumes; shipping handles the command.
  const shop = createBus({ ...common, source: '/demo/shop', announce: { sends: [Placed, Ship] } });
  const stats = createBus({ ...common, source: '/demo/stats' });
  const shipping = createBus({ ...common, source: '/demo/shipping' });
  stats.on(Placed, { group: 'stats' }, () => undefined);
  shipping.handle(Ship, () => undefined);
  const signal = AbortSignal.timeout(30_000);
  try {
    await Promise.all([shop.start(), stats.start(), shipping.start()]);
    const first = await topology(target, signal);
    assert.deepEqual(
      first.services.map((service) => [service.name, service.instances]),
      [
        ['shipping', 1],
        ['shop', 1],
        ['stats', 1],
      ],
    );
    const edges = first.edges.map((edge) => `${edge.kind} ${edge.from} ${edge.to}`);
    for (const edge of [
      'produces service:shop topic:placed',
      'produces service:shop topic:commands.Ship',
      'consumes topic:placed group:stats',
      'handles group:stats service:stats',
      'handles group:Ship service:shipping',
    ]) {
      assert.ok(edges.includes(edge), `${edge} in ${edges.join('; ')}`);
    }
    assert.equal(first.topics.find((topic) => topic.name === 'placed')?.ratePerSecond, null);
    assert.ok(!first.topics.some((topic) => topic.name === 'herald.services'), 'announcements are not drawn');
    // The embedded broker creates herald.services with a day of retention, not forever.
    assert.deepEqual((await transport.broker.describeTopic(SERVICES_TOPIC)).config, {
      retentionMs: SERVICES_TOPIC_RETENTION_MS,
      segmentAgeMsMax: SERVICES_TOPIC_SEGMENT_MS,
    });

    for (let index = 0; index < 20; index++) await shop.publish(Placed, { id: `p-${index}` });
    await eventually(async () => {
      const next = await topology(target, signal);
      const placed = next.topics.find((topic) => topic.name === 'placed');
      const group = next.groups.find((entry) => entry.group === 'stats');
      return (placed?.ratePerSecond ?? 0) > 0 && group?.lag === '0' && (group.ratePerSecond ?? 0) > 0;
    }, 'a rate on placed and the stats group caught up with a rate');

    await stats.stop();
    const after = await topology(target, signal);
    const stopped = after.services.find((service) => service.name === 'stats');
    assert.deepEqual(
      [stopped?.instances, stopped?.stoppedInstances],
      [0, 1],
      'stats left, and still shows what it handles',
    );
    assert.ok(after.edges.some((edge) => edge.kind === 'handles' && edge.to === 'service:stats'));
  } finally {
    await Promise.all([shop.stop(), stats.stop(), shipping.stop()]);
    await transport.close();
  }
});

test('topology - an instance silent for three intervals counts as silent, not live', {
  timeout: 60_000,
}, async () => {
  const transport = await embeddedTransport({ dir: temporaryDirectory('herald-topology-'), partitions: 1 });
  const target = targetOfBroker(transport.broker);
  let cutOff = false;
  // Its announcements stop reaching the broker, as when its process is killed (no `leaving`).
  const flaky: Transport = {
    name: transport.name,
    features: transport.features,
    publish: async (topic, messages) => {
      if (!(cutOff && topic === SERVICES_TOPIC)) await transport.publish(topic, messages);
    },
    subscribe: (options, handler) => transport.subscribe(options, handler),
    close: async () => {},
  };
  const bus = createBus({
    transport: flaky,
    source: '/demo/lost',
    logger: silentLogger,
    announce: { intervalMs: 100 },
  });
  const signal = AbortSignal.timeout(30_000);
  try {
    await bus.start();
    const live = await topology(target, signal);
    assert.deepEqual(
      live.services.map((service) => [service.name, service.instances, service.silentInstances]),
      [['lost', 1, 0]],
    );
    cutOff = true;
    await eventually(async () => {
      const [service] = (await topology(target, signal)).services;
      return service?.instances === 0 && service.silentInstances === 1;
    }, 'the cut-off instance to count as silent');
  } finally {
    await bus.stop();
    await transport.close();
  }
});

test('topology - samples at most 200 topics, those with no announced producer first, and says how many it left', {
  timeout: 120_000,
}, async () => {
  const transport = await embeddedTransport({ dir: temporaryDirectory('herald-topology-'), partitions: 1 });
  const target = targetOfBroker(transport.broker);
  const common = { transport, ownsTransport: false, logger: silentLogger } as const;
  // 202 topics only a silent producer writes (found by sampling), and one a service announces.
  const silentTopics = Array.from({ length: TOPOLOGY_SAMPLED_TOPICS_MAX + 2 }, (_, index) =>
    defineEvent(`Quiet${index}`, { topic: `t-${String(index).padStart(3, '0')}`, schema: withId }),
  );
  const Declared = defineEvent('Declared', { topic: 'a-declared', schema: withId });
  const quiet = createBus({ ...common, source: '/demo/quiet', announce: false });
  const shop = createBus({ ...common, source: '/demo/shop', announce: { sends: [Declared] } });
  const signal = AbortSignal.timeout(60_000);
  try {
    await Promise.all([quiet.start(), shop.start()]);
    for (const contract of silentTopics) await quiet.publish(contract, { id: contract.type });
    await shop.publish(Declared, { id: 'd' });
    const view = await topology(target, signal);
    assert.equal(view.topics.length, TOPOLOGY_SAMPLED_TOPICS_MAX + 3);
    // Left: the declared topic (its producer is known) and the last two silent ones by name.
    assert.equal(view.unsampledTopics, 3);
    const produces = new Set(
      view.edges.filter((edge) => edge.kind === 'produces').map((e) => `${e.from} ${e.to}`),
    );
    assert.ok(produces.has('service:quiet topic:t-000'), 'a sampled topic shows its silent producer');
    assert.ok(produces.has('service:quiet topic:t-199'));
    assert.ok(!produces.has('service:quiet topic:t-200'), 'an unsampled topic does not');
    assert.ok(
      produces.has('service:shop topic:a-declared'),
      'the declared producer comes from its announcement',
    );
    assert.equal(view.topics.find((topic) => topic.name === 't-201')?.messages, '1', 'sizes still read');
  } finally {
    await Promise.all([quiet.stop(), shop.stop()]);
    await transport.close();
  }
});

test('topology - rate window: null with one sample, growth per second over the window', () => {
  const window = new RateWindow();
  assert.equal(window.sample('t', 100n, 1_000), null);
  assert.equal(window.sample('t', 150n, 2_000), 50);
  assert.equal(window.sample('t', 250n, 3_000), 75);
  // Samples older than the 10 s window stop counting (one is kept at the window's edge).
  assert.equal(window.sample('t', 250n, 30_000), 0);
  assert.equal(window.sample('t', 260n, 31_000), 10);
  // An offset that went down (a recreated topic) is no negative rate.
  assert.equal(window.sample('t', 0n, 32_000), 0);
});
