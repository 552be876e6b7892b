/** The classic group protocol in isolation: votes, inconsistent protocols, generations, expiry. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODE } from '@herald/kafka-protocol';
import { GroupCoordinator, type JoinInput } from '../src/group-coordinator.ts';

const meta = (text: string) => new TextEncoder().encode(text);

function join(
  coordinator: GroupCoordinator,
  memberId: string,
  protocols: string[],
  sessionTimeoutMs = 1_000,
) {
  const input: JoinInput = {
    groupId: 'g',
    memberId,
    groupInstanceId: null,
    clientId: 'c',
    sessionTimeoutMs,
    rebalanceTimeoutMs: 2_000,
    protocolType: 'consumer',
    protocols: protocols.map((name) => ({ name, metadata: meta(name) })),
  };
  return coordinator.join(input);
}

test('group coordinator - the protocol with most first-choice votes wins; none in common is refused', {
  timeout: 60_000,
}, async () => {
  const coordinator = new GroupCoordinator({ sessionTimeoutMsMin: 10, initialRebalanceDelayMs: 20 });
  try {
    const [a, b, c] = await Promise.all([
      join(coordinator, '', ['range', 'roundrobin']),
      join(coordinator, '', ['roundrobin', 'range']),
      join(coordinator, '', ['roundrobin']),
    ]);
    for (const result of [a, b, c]) {
      assert.equal(result.errorCode, ERROR_CODE.NONE);
      assert.equal(result.protocolName, 'roundrobin');
      assert.equal(result.generationId, 1);
    }
    const leader = [a, b, c].find((result) => result.memberId === result.leader)!;
    assert.equal(leader.members.length, 3);
    assert.equal(
      [a, b, c].filter((result) => result.members.length > 0).length,
      1,
      'only the leader gets members',
    );
    const mixed = await join(coordinator, '', ['RoundRobinAssigner']);
    assert.equal(mixed.errorCode, ERROR_CODE.INCONSISTENT_GROUP_PROTOCOL);
  } finally {
    coordinator.close();
  }
});

test('group coordinator - sync relays the leader assignment; heartbeats report rebalances; expiry drops members', {
  timeout: 60_000,
}, async () => {
  const coordinator = new GroupCoordinator({ sessionTimeoutMsMin: 10, initialRebalanceDelayMs: 10 });
  try {
    const [a, b] = await Promise.all([
      join(coordinator, '', ['range'], 200),
      join(coordinator, '', ['range'], 200),
    ]);
    const leader = a.memberId === a.leader ? a : b;
    const follower = leader === a ? b : a;
    const followerSync = coordinator.sync('g', follower.memberId, follower.generationId, []);
    const leaderSync = await coordinator.sync('g', leader.memberId, leader.generationId, [
      { memberId: leader.memberId, assignment: meta('L') },
      { memberId: follower.memberId, assignment: meta('F') },
    ]);
    assert.deepEqual([leaderSync.errorCode, new TextDecoder().decode(leaderSync.assignment)], [0, 'L']);
    const followed = await followerSync;
    assert.deepEqual([followed.errorCode, new TextDecoder().decode(followed.assignment)], [0, 'F']);
    assert.equal(coordinator.heartbeat('g', leader.memberId, leader.generationId), ERROR_CODE.NONE);
    assert.equal(coordinator.heartbeat('g', leader.memberId, 99), ERROR_CODE.ILLEGAL_GENERATION);
    assert.equal(coordinator.heartbeat('g', 'nobody', leader.generationId), ERROR_CODE.UNKNOWN_MEMBER_ID);
    // As Kafka's classic group: membership is checked before the generation.
    assert.equal(
      coordinator.checkCommit('g', '', -1),
      ERROR_CODE.UNKNOWN_MEMBER_ID,
      'simple commits need an empty group',
    );
    assert.equal(coordinator.checkCommit('g', 'nobody', -1), ERROR_CODE.UNKNOWN_MEMBER_ID);
    assert.equal(coordinator.checkCommit('g', 'nobody', leader.generationId), ERROR_CODE.UNKNOWN_MEMBER_ID);
    assert.equal(coordinator.checkCommit('g', '', -1, 'instance'), ERROR_CODE.UNKNOWN_MEMBER_ID);
    assert.equal(coordinator.checkCommit('g', leader.memberId, -1), ERROR_CODE.ILLEGAL_GENERATION);
    assert.equal(coordinator.checkCommit('unknown', '', -1), ERROR_CODE.NONE, 'a simple group');
    assert.equal(
      coordinator.checkCommit('unknown', 'someone', 3),
      ERROR_CODE.ILLEGAL_GENERATION,
      'an unknown group with a generation (OffsetCommit before v9)',
    );
    // The follower stops heartbeating: after its session timeout the leader is told to rejoin.
    const deadline = performance.now() + 5_000;
    let code: number = ERROR_CODE.NONE;
    while (code === ERROR_CODE.NONE && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      code = coordinator.heartbeat('g', leader.memberId, leader.generationId);
    }
    assert.equal(code, ERROR_CODE.REBALANCE_IN_PROGRESS);
    const rejoined = await join(coordinator, leader.memberId, ['range'], 200);
    assert.equal(rejoined.generationId, leader.generationId + 1);
    assert.deepEqual(
      rejoined.members.map((member) => member.memberId),
      [leader.memberId],
    );
    assert.equal(coordinator.leave('g', leader.memberId), ERROR_CODE.NONE);
    assert.equal(
      coordinator.checkCommit('g', '', -1),
      ERROR_CODE.NONE,
      'simple commits once the group is empty',
    );
    assert.equal(
      coordinator.checkCommit('g', leader.memberId, -1),
      ERROR_CODE.NONE,
      'generation -1, group empty',
    );
  } finally {
    coordinator.close();
  }
});

test('group coordinator - session timeouts outside 6 s to 30 min are refused', {
  timeout: 60_000,
}, async () => {
  const coordinator = new GroupCoordinator();
  assert.equal((await join(coordinator, '', ['range'], 1_000)).errorCode, ERROR_CODE.INVALID_SESSION_TIMEOUT);
  coordinator.close();
});

test('group coordinator - a join with an unknown member id is refused and creates no group', {
  timeout: 60_000,
}, async () => {
  const coordinator = new GroupCoordinator();
  try {
    assert.equal(
      (await join(coordinator, 'stale-member', ['range'], 10_000)).errorCode,
      ERROR_CODE.UNKNOWN_MEMBER_ID,
    );
    assert.deepEqual(coordinator.listGroups(), []);
  } finally {
    coordinator.close();
  }
});

test('group coordinator - a member commits with its generation while a rebalance is prepared, not between join and sync', {
  timeout: 60_000,
}, async () => {
  const coordinator = new GroupCoordinator({ sessionTimeoutMsMin: 10, initialRebalanceDelayMs: 10 });
  try {
    const first = await join(coordinator, '', ['range'], 5_000);
    const synced = await coordinator.sync('g', first.memberId, first.generationId, [
      { memberId: first.memberId, assignment: meta('all') },
    ]);
    assert.equal(synced.errorCode, ERROR_CODE.NONE);
    assert.equal(coordinator.checkCommit('g', first.memberId, first.generationId), ERROR_CODE.NONE, 'stable');
    // A second member arrives: the group prepares a rebalance and waits for the first to rejoin.
    const second = join(coordinator, '', ['range'], 5_000);
    assert.equal(
      coordinator.heartbeat('g', first.memberId, first.generationId),
      ERROR_CODE.REBALANCE_IN_PROGRESS,
    );
    assert.equal(
      coordinator.checkCommit('g', first.memberId, first.generationId),
      ERROR_CODE.NONE,
      'the revoking member commits what it finished before rejoining',
    );
    assert.equal(
      coordinator.checkCommit('g', first.memberId, first.generationId + 5),
      ERROR_CODE.ILLEGAL_GENERATION,
    );
    const [rejoined, joined] = await Promise.all([
      join(coordinator, first.memberId, ['range'], 5_000),
      second,
    ]);
    assert.equal(rejoined.generationId, first.generationId + 1);
    assert.equal(
      coordinator.checkCommit('g', first.memberId, first.generationId),
      ERROR_CODE.ILLEGAL_GENERATION,
      'the old generation may not commit once the join completed',
    );
    assert.equal(
      coordinator.checkCommit('g', joined.memberId, joined.generationId),
      ERROR_CODE.REBALANCE_IN_PROGRESS,
      'no commits between join and sync',
    );
  } finally {
    coordinator.close();
  }
});
