/**
 * DescribeConfigs, DeleteGroups and OffsetDelete against an in-process server's handlers: the
 * answers Kafka gives for unknown groups, groups with members, unknown topics and resources.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ERROR_CODE } from '@herald/kafka-protocol';
import { temporaryDirectory } from '@herald/test-support';
import type { ServerContext } from '../src/context.ts';
import { GroupCoordinator } from '../src/group-coordinator.ts';
import { handleDeleteGroups, handleDescribeConfigs, handleOffsetDelete } from '../src/handlers/admin.ts';
import { type KafkaServer, startKafkaServer } from '../src/index.ts';
import { ProducerStateManager } from '../src/producer-state.ts';
import { TopicCache } from '../src/topic-cache.ts';

describe('admin APIs', () => {
  let server: KafkaServer;
  let context: ServerContext;
  before(async () => {
    server = await startKafkaServer({ dir: temporaryDirectory(), port: 0, partitions: 2 });
    await server.broker.createTopic('admin-t');
    context = {
      broker: server.broker,
      topics: new TopicCache(server.broker),
      groups: new GroupCoordinator({ initialRebalanceDelayMs: 0 }),
      producers: new ProducerStateManager(server.broker),
      advertisedHost: '127.0.0.1',
      advertisedPort: server.port,
      clusterId: 'test',
      defaultPartitions: 2,
      autoCreateTopics: false,
      fetchResponseBytesMax: 1024 * 1024,
      closing: new Promise<void>(() => {}),
      isClosing: () => false,
      onError: (error) => {
        throw error;
      },
    };
  });
  after(async () => {
    context?.groups.close();
    await server?.close();
  });

  test('admin - DescribeConfigs: a topic, the broker, selected keys, unknown topics and resource types', async () => {
    const response = await handleDescribeConfigs(context, {
      resources: [
        { resourceType: 2, resourceName: 'admin-t', configurationKeys: null },
        { resourceType: 2, resourceName: 'admin-t', configurationKeys: ['retention.ms'] },
        { resourceType: 4, resourceName: '0', configurationKeys: ['num.partitions'] },
        { resourceType: 2, resourceName: 'missing', configurationKeys: null },
        { resourceType: 4, resourceName: '7', configurationKeys: null },
        { resourceType: 1, resourceName: 'x', configurationKeys: null },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const [all, one, broker, missing, otherBroker, unknownType] = response.results;
    assert.equal(all!.errorCode, ERROR_CODE.NONE);
    assert.ok(all!.configs.some((config) => config.name === 'cleanup.policy' && config.value === 'delete'));
    assert.ok(all!.configs.every((config) => config.configSource === 5 && config.readOnly));
    assert.deepEqual(
      one!.configs.map((config) => [config.name, config.value]),
      [['retention.ms', '-1']],
    );
    assert.deepEqual(
      broker!.configs.map((config) => [config.name, config.value]),
      [['num.partitions', '2']],
    );
    assert.equal(missing!.errorCode, ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(otherBroker!.errorCode, ERROR_CODE.INVALID_REQUEST);
    assert.equal(unknownType!.errorCode, ERROR_CODE.INVALID_REQUEST);
  });

  test('admin - DeleteGroups and OffsetDelete: unknown, non-empty and committed-only groups', async () => {
    await server.broker.commitOffsets(
      'admin-t',
      'committed-only',
      new Map([
        [0, 5n],
        [1, 7n],
      ]),
    );
    const joined = context.groups.join({
      groupId: 'busy',
      memberId: '',
      groupInstanceId: null,
      clientId: 'c',
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: 1_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: new Uint8Array(0) }],
    });
    assert.equal((await joined).errorCode, ERROR_CODE.NONE);

    const busy = await handleOffsetDelete(context, {
      groupId: 'busy',
      topics: [{ name: 'admin-t', partitions: [{ partitionIndex: 0 }] }],
    });
    assert.equal(busy.errorCode, ERROR_CODE.NONE);
    assert.equal(busy.topics[0]!.partitions[0]!.errorCode, ERROR_CODE.GROUP_SUBSCRIBED_TO_TOPIC);
    const unknown = await handleOffsetDelete(context, { groupId: 'nobody', topics: [] });
    assert.equal(unknown.errorCode, ERROR_CODE.GROUP_ID_NOT_FOUND);
    const deleted = await handleOffsetDelete(context, {
      groupId: 'committed-only',
      topics: [{ name: 'admin-t', partitions: [{ partitionIndex: 0 }, { partitionIndex: 9 }] }],
    });
    assert.deepEqual(
      deleted.topics[0]!.partitions.map((partition) => partition.errorCode),
      [ERROR_CODE.NONE, ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION],
    );
    assert.deepEqual([...(await server.broker.committedOffsets('admin-t', 'committed-only'))], [[1, 7n]]);

    const groups = await handleDeleteGroups(context, { groupsNames: ['busy', 'nobody', 'committed-only'] });
    assert.deepEqual(groups.results, [
      { groupId: 'busy', errorCode: ERROR_CODE.NON_EMPTY_GROUP },
      { groupId: 'nobody', errorCode: ERROR_CODE.GROUP_ID_NOT_FOUND },
      { groupId: 'committed-only', errorCode: ERROR_CODE.NONE },
    ]);
    assert.equal((await server.broker.committedOffsets('admin-t', 'committed-only')).size, 0);
    assert.ok(!(await server.broker.committedGroups()).includes('committed-only'));
  });
});
