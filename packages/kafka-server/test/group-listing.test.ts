/**
 * ListGroups and DescribeGroups over a real socket to an in-process server: every advertised
 * version, groups the coordinator knows in each state, groups with only committed offsets, unknown
 * groups (Dead, error NONE), and what is sent only while a group is Stable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  API_KEY,
  APIS,
  type ApiVersionsResponse,
  type DescribeGroupsResponse,
  ERROR_CODE,
  type JoinGroupResponse,
  type ListGroupsResponse,
  type SyncGroupResponse,
} from '@herald/kafka-protocol';
import { temporaryDirectory } from '@herald/test-support';
import { GroupCoordinator } from '../src/group-coordinator.ts';
import { type KafkaServer, startKafkaServer } from '../src/index.ts';
import { WireClient } from './wire-client.ts';

const bytes = (text: string) => new Uint8Array(Buffer.from(text));

function join(client: WireClient, groupId: string, clientId: string): Promise<JoinGroupResponse> {
  return client.request<JoinGroupResponse>(
    API_KEY.JoinGroup,
    2,
    {
      groupId,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [
        { name: 'range', metadata: bytes(`range-of-${clientId}`) },
        { name: 'roundrobin', metadata: bytes(`rr-of-${clientId}`) },
      ],
    },
    clientId,
  );
}

const listGroups = (client: WireClient, version: number, body: object = {}) =>
  client.request<ListGroupsResponse>(API_KEY.ListGroups, version, body);

const describeGroups = (
  client: WireClient,
  version: number,
  groups: string[],
  includeAuthorizedOperations = false,
) =>
  client.request<DescribeGroupsResponse>(API_KEY.DescribeGroups, version, {
    groups,
    includeAuthorizedOperations,
  });

describe('group listing', { timeout: 600_000 }, () => {
  let server: KafkaServer;
  let client: WireClient;
  before(async () => {
    server = await startKafkaServer({
      dir: temporaryDirectory(),
      port: 0,
      partitions: 2,
      groups: { initialRebalanceDelayMs: 200 },
    });
    await server.broker.createTopic('orders');
    client = new WireClient(server.port, { clientId: 'group-listing' });
  });
  after(async () => {
    client.close();
    await server.close();
  });

  test('group listing - ApiVersions advertises ListGroups 0-5 (flexible from 3) and DescribeGroups 0-5 (from 5)', async () => {
    const versions = await client.request<ApiVersionsResponse>(API_KEY.ApiVersions, 2, {});
    const range = (apiKey: number) => versions.apiKeys.find((entry) => entry.apiKey === apiKey);
    assert.deepEqual(range(API_KEY.ListGroups), { apiKey: 16, minVersion: 0, maxVersion: 5 });
    assert.deepEqual(range(API_KEY.DescribeGroups), { apiKey: 15, minVersion: 0, maxVersion: 5 });
    const listGroups = APIS.find((api) => api.name === 'ListGroups')!;
    assert.equal(listGroups.request.flexibleFrom, 3, 'v3 is the first flexible ListGroups version');
    const describeGroups = APIS.find((api) => api.name === 'DescribeGroups')!;
    assert.equal(describeGroups.request.flexibleFrom, 5, 'v5 is the first flexible DescribeGroups version');
  });

  test('group listing - an empty server lists nothing; unknown groups are Dead with error NONE', async () => {
    for (const version of [0, 1, 2]) {
      const listed = await listGroups(client, version);
      assert.equal(listed.errorCode, ERROR_CODE.NONE);
      assert.deepEqual(listed.groups, []);
    }
    for (const version of [0, 1, 2, 3]) {
      const described = await describeGroups(client, version, ['nobody', '']);
      assert.deepEqual(
        described.groups.map((group) => ({ ...group, authorizedOperations: undefined })),
        ['nobody', ''].map((groupId) => ({
          errorCode: ERROR_CODE.NONE,
          groupId,
          groupState: 'Dead',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: undefined,
        })),
      );
    }
  });

  test('group listing - members through PreparingRebalance, CompletingRebalance and Stable; commits only; Empty', async () => {
    const [a, b] = [
      new WireClient(server.port, { clientId: 'group-listing' }),
      new WireClient(server.port, { clientId: 'group-listing' }),
    ];
    try {
      // Join phase: both members wait for the initial delay, the group is PreparingRebalance.
      const joins = [join(a, 'live', 'client-a'), join(b, 'live', 'client-b')];
      let preparing: DescribeGroupsResponse | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        preparing = await describeGroups(client, 0, ['live']);
        if (preparing.groups[0]!.members.length === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const [joinA, joinB] = await Promise.all(joins);
      const prepared = preparing!.groups[0]!;
      assert.equal(prepared.groupState, 'PreparingRebalance');
      assert.equal(prepared.protocolType, 'consumer');
      assert.equal(prepared.protocolData, '', 'no protocol before the group is Stable');
      assert.deepEqual(prepared.members.map((member) => member.clientId).sort(), ['client-a', 'client-b']);

      // Joined, not synced: CompletingRebalance, still no metadata or assignment.
      const completing = (await describeGroups(client, 1, ['live'])).groups[0]!;
      assert.equal(completing.groupState, 'CompletingRebalance');
      assert.equal(completing.protocolData, '');
      for (const member of completing.members) {
        assert.equal(member.memberMetadata.length, 0);
        assert.equal(member.memberAssignment.length, 0);
      }

      // Synced: Stable, with the chosen protocol's metadata and the leader's assignments.
      const leader = joinA!.memberId === joinA!.leader ? joinA! : joinB!;
      const follower = leader === joinA ? joinB! : joinA!;
      const [leaderClient, followerClient] = leader === joinA ? [a, b] : [b, a];
      const sync = (on: WireClient, memberId: string, assignments: object[]) =>
        on.request<SyncGroupResponse>(API_KEY.SyncGroup, 1, {
          groupId: 'live',
          generationId: leader.generationId,
          memberId,
          groupInstanceId: null,
          assignments,
        });
      const synced = await Promise.all([
        sync(followerClient, follower.memberId, []),
        sync(leaderClient, leader.memberId, [
          { memberId: leader.memberId, assignment: bytes('to-leader') },
          { memberId: follower.memberId, assignment: bytes('to-follower') },
        ]),
      ]);
      for (const response of synced) assert.equal(response.errorCode, ERROR_CODE.NONE);

      const stable = (await describeGroups(client, 3, ['live'], true)).groups[0]!;
      assert.equal(stable.errorCode, ERROR_CODE.NONE);
      assert.equal(stable.groupState, 'Stable');
      assert.equal(stable.protocolType, 'consumer');
      assert.equal(stable.protocolData, leader.protocolName);
      assert.equal(stable.authorizedOperations, 328, 'READ, DELETE and DESCRIBE');
      const byId = new Map(stable.members.map((member) => [member.memberId, member]));
      assert.equal(byId.size, 2);
      const described = byId.get(leader.memberId)!;
      const leaderClientId = leader === joinA ? 'client-a' : 'client-b';
      assert.equal(described.clientId, leaderClientId);
      assert.equal(described.clientHost, '/127.0.0.1');
      assert.deepEqual(
        Buffer.from(described.memberMetadata).toString(),
        `${leader.protocolName === 'range' ? 'range' : 'rr'}-of-${leaderClientId}`,
      );
      assert.equal(Buffer.from(described.memberAssignment).toString(), 'to-leader');
      assert.equal(Buffer.from(byId.get(follower.memberId)!.memberAssignment).toString(), 'to-follower');
      const notAsked = (await describeGroups(client, 3, ['live'])).groups[0]!;
      assert.equal(notAsked.authorizedOperations, -2147483648);

      // A simple consumer's commit (generation -1): listed and described as an Empty consumer group.
      const commit = await client.request<{ topics: { partitions: { errorCode: number }[] }[] }>(
        API_KEY.OffsetCommit,
        2,
        {
          groupId: 'batch-job',
          generationIdOrMemberEpoch: -1,
          memberId: '',
          retentionTimeMs: -1n,
          topics: [
            {
              name: 'orders',
              partitions: [{ partitionIndex: 0, committedOffset: 0n, committedMetadata: '' }],
            },
          ],
        },
      );
      assert.equal(commit.topics[0]!.partitions[0]!.errorCode, ERROR_CODE.NONE);
      for (const version of [0, 1, 2]) {
        const { groups } = await listGroups(client, version);
        assert.deepEqual(
          groups.map(({ groupId, protocolType }) => ({ groupId, protocolType })),
          [
            { groupId: 'batch-job', protocolType: 'consumer' },
            { groupId: 'live', protocolType: 'consumer' },
          ],
        );
      }
      // Flexible ListGroups (v3+), the v4 states filter (case-insensitive) and the v5 types filter.
      const names = (response: ListGroupsResponse) => response.groups.map((group) => group.groupId);
      assert.deepEqual(names(await listGroups(client, 3)), ['batch-job', 'live']);
      const stableOnly = await listGroups(client, 4, { statesFilter: ['stable'] });
      assert.deepEqual(
        stableOnly.groups.map(({ groupId, groupState }) => ({ groupId, groupState })),
        [{ groupId: 'live', groupState: 'Stable' }],
      );
      assert.deepEqual(names(await listGroups(client, 5, { typesFilter: ['consumer'] })), []);
      assert.deepEqual(names(await listGroups(client, 5, { typesFilter: ['Classic'] })), [
        'batch-job',
        'live',
      ]);
      const flexible = (await describeGroups(client, 5, ['live'])).groups[0]!;
      assert.deepEqual([flexible.groupState, flexible.members.length], ['Stable', 2]);
      const described2 = await describeGroups(client, 2, ['batch-job', 'live', 'nobody']);
      assert.deepEqual(
        described2.groups.map((group) => [
          group.groupId,
          group.groupState,
          group.protocolType,
          group.members.length,
        ]),
        [
          ['batch-job', 'Empty', 'consumer', 0],
          ['live', 'Stable', 'consumer', 2],
          ['nobody', 'Dead', '', 0],
        ],
      );

      // Both members leave: the group stays listed, Empty, with no members.
      for (const [on, memberId] of [
        [a, joinA!.memberId],
        [b, joinB!.memberId],
      ] as const) {
        const left = await on.request<{ errorCode: number }>(API_KEY.LeaveGroup, 1, {
          groupId: 'live',
          memberId,
        });
        assert.equal(left.errorCode, ERROR_CODE.NONE);
      }
      const empty = (await describeGroups(client, 0, ['live'])).groups[0]!;
      assert.deepEqual(
        [empty.groupState, empty.protocolType, empty.protocolData, empty.members.length],
        ['Empty', 'consumer', '', 0],
      );
      assert.ok((await listGroups(client, 2)).groups.some((group) => group.groupId === 'live'));
    } finally {
      a.close();
      b.close();
    }
  });
});

test('group coordinator - listGroups and describeGroup are read-only views', {
  timeout: 180_000,
}, async () => {
  const coordinator = new GroupCoordinator({ sessionTimeoutMsMin: 10, initialRebalanceDelayMs: 10 });
  try {
    assert.deepEqual(coordinator.listGroups(), []);
    assert.equal(coordinator.describeGroup('g'), undefined);
    const joined = await coordinator.join({
      groupId: 'g',
      memberId: '',
      groupInstanceId: null,
      clientId: 'c1',
      clientHost: '/10.0.0.1',
      sessionTimeoutMs: 1_000,
      rebalanceTimeoutMs: 1_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: bytes('m') }],
    });
    assert.deepEqual(coordinator.listGroups(), [
      { groupId: 'g', state: 'CompletingRebalance', protocolType: 'consumer' },
    ]);
    const described = coordinator.describeGroup('g')!;
    assert.equal(described.generationId, joined.generationId);
    assert.equal(described.protocolName, 'range');
    assert.deepEqual(
      described.members.map((member) => [member.memberId, member.clientId, member.clientHost]),
      [[joined.memberId, 'c1', '/10.0.0.1']],
    );
    assert.deepEqual(described.members[0]!.metadata, bytes('m'));
    // Reading changes nothing: the member still syncs its generation.
    const synced = await coordinator.sync('g', joined.memberId, joined.generationId, [
      { memberId: joined.memberId, assignment: bytes('a') },
    ]);
    assert.equal(synced.errorCode, ERROR_CODE.NONE);
    assert.deepEqual(coordinator.describeGroup('g')!.members[0]!.assignment, bytes('a'));
  } finally {
    coordinator.close();
  }
});
