/** The leader's assignment: each topic's partitions only to the members subscribed to it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from '@platformatic/kafka';
import { subscriptionAwareRoundRobin } from '../src/assigner.ts';

test('assigner - partitions of a topic go round-robin to its subscribers only, whatever the leader reads', {
  timeout: 60_000,
}, () => {
  const member = (memberId: string, topics: string[]): [string, ExtendedGroupProtocolSubscription] => [
    memberId,
    { memberId, version: 0, topics },
  ];
  const members = new Map([member('a', ['inventory']), member('b', ['payments']), member('c', ['payments'])]);
  const metadata = {
    topics: new Map([
      ['inventory', { partitionsCount: 2 }],
      ['payments', { partitionsCount: 4 }],
    ]),
  } as unknown as ClusterMetadata;
  // The client passes only the leader's topics; members of other topics must still get theirs.
  const result = subscriptionAwareRoundRobin('a', members, new Set(['inventory']), metadata);
  const of = (id: string) =>
    Object.fromEntries(
      [...(result.find((entry) => entry.memberId === id)?.assignments.values() ?? [])].map((entry) => [
        entry.topic,
        entry.partitions,
      ]),
    );
  assert.deepEqual(of('a'), { inventory: [0, 1] });
  assert.deepEqual([...(of('b').payments ?? []), ...(of('c').payments ?? [])].sort(), [0, 1, 2, 3]);
  assert.equal(of('b').payments?.length, 2);
  assert.equal(of('b').inventory, undefined);
});
