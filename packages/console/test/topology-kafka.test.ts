/**
 * The topology through a Kafka-protocol broker (`herald serve`, as `herald console --broker`
 * reads it): an announcement produced to `herald.services` over the Kafka protocol, a topic's
 * CloudEvents source and a group's committed offsets make the same picture as on a data
 * directory — the consume-only service appears with its group.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announcementMessage, HERALD_VERSION, SERVICES_TOPIC } from '@herald/bus';
import { type CommandIo, openTarget } from '@herald/cli/internal';
import { startServe, temporaryDirectory } from '@herald/test-support';
import { topology } from '../src/topology.ts';

const io: CommandIo = { stdout: () => {}, stderr: () => {}, env: {} };

test('topology - over a Kafka-protocol broker (herald serve)', { timeout: 90_000 }, async () => {
  const serve = await startServe({ dir: temporaryDirectory('herald-topology-kafka-'), partitions: 1 });
  const target = await openTarget({ broker: serve.bootstrap }, io, true);
  try {
    await target.createTopic('placed', 1);
    await target.createTopic(SERVICES_TOPIC, 1);
    await target.publish('placed', [
      {
        key: 'p-1',
        headers: { ce_id: 'e-1', ce_source: '/demo/shop', ce_type: 'Placed' },
        value: Buffer.from('{}'),
      },
    ]);
    const message = announcementMessage({
      service: 'stats',
      instanceId: 'instance-1',
      source: '/demo/stats',
      state: 'up',
      transport: 'kafka',
      heraldVersion: HERALD_VERSION,
      host: 'test',
      pid: 1,
      intervalMs: 30_000,
      publishes: [],
      handlers: [{ topic: 'placed', group: 'stats', types: ['Placed'] }],
      truncated: false,
    });
    await target.publish(SERVICES_TOPIC, [
      { key: message.key, headers: message.headers, value: message.body },
    ]);
    await target.moveGroup('stats', 'placed', 'kafka', new Map([[0, 1n]]));
    const view = await topology(target, AbortSignal.timeout(30_000));
    assert.deepEqual(
      view.services.map((service) => [service.name, service.announced, service.instances]),
      [
        ['shop', false, 0],
        ['stats', true, 1],
      ],
    );
    const edges = view.edges.map((edge) => `${edge.kind} ${edge.from} ${edge.to}`);
    for (const edge of [
      'produces service:shop topic:placed',
      'consumes topic:placed group:stats',
      'handles group:stats service:stats',
    ]) {
      assert.ok(edges.includes(edge), `${edge} in ${edges.join('; ')}`);
    }
    assert.equal(view.groups.find((group) => group.group === 'stats')?.lag, '0');
  } finally {
    await target.close();
    await serve.stop();
  }
});
