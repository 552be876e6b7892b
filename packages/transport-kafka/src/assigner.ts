/**
 * The partition assignment the group leader computes (Kafka's `roundrobin` protocol): each topic's
 * partitions go round-robin to the members subscribed to that topic, and only to them.
 *
 * Why not `@platformatic/kafka`'s own: it hands partitions of every topic to every member, whatever
 * each subscribed to. A Herald process subscribes one member per (topic, group), so a group that
 * reads several topics (the checkout's `order` service reads `inventory` and `payments`) has
 * members with different subscriptions, and partitions given to a member of another topic would
 * never be read. It also passes the assigner only the leader's own topics, so this one reads every
 * member's subscription.
 */
import type {
  ClusterMetadata,
  ExtendedGroupProtocolSubscription,
  GroupPartitionsAssignments,
} from '@platformatic/kafka';

/** Assigns `topics` among `members` by their subscriptions; deterministic (sorted member ids). */
export function subscriptionAwareRoundRobin(
  _current: string,
  members: Map<string, ExtendedGroupProtocolSubscription>,
  _leaderTopics: Set<string>,
  metadata: ClusterMetadata,
): GroupPartitionsAssignments[] {
  const ids = [...members.keys()].sort();
  const assignments = new Map<string, GroupPartitionsAssignments>(
    ids.map((memberId) => [memberId, { memberId, assignments: new Map() }]),
  );
  // Every member's topics (the client passes only the leader's own; its metadata covers all).
  const topics = new Set<string>();
  for (const member of members.values()) for (const topic of member.topics ?? []) topics.add(topic);
  let next = 0;
  for (const topic of [...topics].sort()) {
    const subscribed = ids.filter((memberId) => members.get(memberId)?.topics?.includes(topic) ?? false);
    const partitionsCount = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (subscribed.length === 0) continue;
    for (let partition = 0; partition < partitionsCount; partition++) {
      const memberId = subscribed[next++ % subscribed.length]!;
      const member = assignments.get(memberId)!;
      const entry = member.assignments.get(topic) ?? { topic, partitions: [] };
      entry.partitions.push(partition);
      member.assignments.set(topic, entry);
    }
  }
  return [...assignments.values()];
}
