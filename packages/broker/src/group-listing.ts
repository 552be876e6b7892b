/**
 * Read-only views of group positions across the topic catalogue and the group-position store:
 * one group's position (`describeGroup`), every group with its kind and topics (`listGroups`),
 * and where one group has a position. Open groups answer from memory, the others from the store.
 */
import type { GroupDescription, GroupListing } from './broker-types.ts';
import type { GroupPositionStore } from './group-position-store.ts';
import type { TopicCatalogue, TopicState } from './topic-catalogue.ts';

/** A group's position on an open topic, with the lag of each partition. */
export async function describeGroupOn(
  state: TopicState,
  positions: GroupPositionStore,
  group: string,
): Promise<GroupDescription> {
  const open = await state.groups.get(group)?.catch(() => undefined);
  const position = open?.position() ?? positions.get(state.metadata.name, group) ?? new Map();
  return {
    group,
    members: open?.memberCount ?? 0,
    partitions: state.logs.map((log, partition) => {
      const stored = position.get(partition);
      const committed = stored?.committed ?? log.logStartOffset;
      const ackedAhead = stored?.ackedAhead ?? [];
      const lag = log.highWatermark - committed - BigInt(ackedAhead.length);
      return { partition, committed, ackedAhead, lag: lag < 0n ? 0n : lag };
    }),
  };
}

/** Every group of both kinds, sorted by group then kind (code-unit order), topics sorted. */
export async function listGroupsOf(
  topics: TopicCatalogue,
  positions: GroupPositionStore,
): Promise<GroupListing[]> {
  const acked = new Map<string, string[]>();
  const committed = new Map<string, string[]>();
  for (const topic of topics.names()) {
    for (const group of await ackedGroupsOn(topics, positions, topic, 'listGroups')) {
      addTopic(acked, group, topic);
    }
    for (const group of positions.committedGroups(topic)) addTopic(committed, group, topic);
  }
  const listings: GroupListing[] = [];
  for (const [group, groupTopics] of acked) {
    let members = 0;
    for (const topic of groupTopics) {
      const state = await topics.existing(topic, 'listGroups');
      members += (await state.groups.get(group)?.catch(() => undefined))?.memberCount ?? 0;
    }
    listings.push({ group, kind: 'acked', topics: groupTopics.sort(), members });
  }
  for (const [group, groupTopics] of committed) {
    listings.push({ group, kind: 'committed', topics: groupTopics.sort(), members: 0 });
  }
  // Code-unit order, as listTopics sorts, so the order does not depend on the locale.
  const order = (listing: GroupListing) => `${listing.group}\0${listing.kind}`;
  return listings.sort((a, b) => (order(a) < order(b) ? -1 : 1));
}

/** Groups with a stored acked position on `topic` or open on it in this broker. */
export async function ackedGroupsOn(
  topics: TopicCatalogue,
  positions: GroupPositionStore,
  topic: string,
  context: string,
): Promise<string[]> {
  const state = await topics.existing(topic, context);
  const groups = new Set(positions.groups(topic));
  for (const group of state.groups.keys()) groups.add(group);
  return [...groups];
}

/** Adds `topic` to the topics of `group` in `byGroup`. */
function addTopic(byGroup: Map<string, string[]>, group: string, topic: string): void {
  const topics = byGroup.get(group);
  if (topics === undefined) byGroup.set(group, [topic]);
  else topics.push(topic);
}
