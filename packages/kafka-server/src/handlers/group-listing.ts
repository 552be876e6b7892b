/**
 * ListGroups (0-5) and DescribeGroups (0-5): read-only views of the group coordinator and of the
 * broker's committed offsets, answered as Kafka's classic group coordinator answers them.
 *
 * - Listed: every group the coordinator knows, plus groups that only have committed offsets
 *   (consumers that left before a restart, simple consumers), reported as protocol type
 *   "consumer" in state Empty. Herald does not remember the protocol type of a group whose members
 *   are all gone, so an Empty group reports "consumer" (what Kafka reports for consumer groups).
 * - Described: state, protocol type, and members with client id and host. As in Kafka, the
 *   protocol name and each member's metadata and assignment are sent only while the group is
 *   Stable; an unknown group is state Dead with error NONE (Kafka accepts any non-null group id
 *   here, the empty one included, so INVALID_GROUP_ID cannot arise from a well-formed request).
 * - authorized_operations (v3): the GROUP operations an ACL-less Kafka allows (READ, DELETE,
 *   DESCRIBE) when asked for, else INT32_MIN.
 */
import {
  AUTHORIZED_OPERATIONS_OMITTED,
  type DescribedGroup,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  ERROR_CODE,
  type ListGroupsRequest,
  type ListGroupsResponse,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';

/** The protocol type reported for groups the coordinator no longer (or never) coordinated. */
const CONSUMER_PROTOCOL = 'consumer';
/** KIP-848 group types: this server runs the classic protocol only. */
const CLASSIC_GROUP_TYPE = 'classic';
const EMPTY = new Uint8Array(0);
/** Kafka's AclOperation codes READ (3), DELETE (6) and DESCRIBE (8) as a bit field. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/**
 * Handles ListGroups. v4 `states_filter` keeps groups in the named states (case-insensitive, as
 * Kafka); v5 `types_filter` keeps groups of the named types: every group here is "classic".
 */
export async function handleListGroups(
  context: ServerContext,
  request: ListGroupsRequest = {},
): Promise<ListGroupsResponse> {
  const groups = new Map<string, { protocolType: string; groupState: string }>();
  for (const group of context.groups.listGroups()) {
    groups.set(group.groupId, {
      protocolType: group.protocolType ?? CONSUMER_PROTOCOL,
      groupState: group.state,
    });
  }
  for (const groupId of await context.broker.committedGroups()) {
    if (!groups.has(groupId)) groups.set(groupId, { protocolType: CONSUMER_PROTOCOL, groupState: 'Empty' });
  }
  const states = new Set((request.statesFilter ?? []).map((state) => state.toLowerCase()));
  const types = new Set((request.typesFilter ?? []).map((type) => type.toLowerCase()));
  return {
    throttleTimeMs: 0,
    errorCode: ERROR_CODE.NONE,
    groups: [...groups]
      .filter(([, group]) => states.size === 0 || states.has(group.groupState.toLowerCase()))
      .filter(() => types.size === 0 || types.has(CLASSIC_GROUP_TYPE))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([groupId, group]) => ({ groupId, ...group, groupType: CLASSIC_GROUP_TYPE })),
  };
}

function describe(
  context: ServerContext,
  groupId: string,
  committed: ReadonlySet<string>,
): Omit<DescribedGroup, 'authorizedOperations'> {
  const group = context.groups.describeGroup(groupId);
  if (group === undefined) {
    if (committed.has(groupId)) {
      return {
        errorCode: ERROR_CODE.NONE,
        groupId,
        groupState: 'Empty',
        protocolType: CONSUMER_PROTOCOL,
        protocolData: '',
        members: [],
      };
    }
    return {
      errorCode: ERROR_CODE.NONE,
      groupId,
      groupState: 'Dead',
      protocolType: '',
      protocolData: '',
      members: [],
    };
  }
  const stable = group.state === 'Stable';
  return {
    errorCode: ERROR_CODE.NONE,
    groupId,
    groupState: group.state,
    protocolType: group.protocolType ?? CONSUMER_PROTOCOL,
    protocolData: stable ? (group.protocolName ?? '') : '',
    members: group.members.map((member) => ({
      memberId: member.memberId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      memberMetadata: stable ? member.metadata : EMPTY,
      memberAssignment: stable ? member.assignment : EMPTY,
    })),
  };
}

/** Handles DescribeGroups: one answer per requested group, in request order. */
export async function handleDescribeGroups(
  context: ServerContext,
  request: DescribeGroupsRequest,
): Promise<DescribeGroupsResponse> {
  // One listing of committed groups per request (not one per group: a request may name many).
  const committed = request.groups.some((groupId) => context.groups.describeGroup(groupId) === undefined)
    ? new Set(await context.broker.committedGroups())
    : new Set<string>();
  const authorizedOperations = request.includeAuthorizedOperations
    ? GROUP_OPERATIONS
    : AUTHORIZED_OPERATIONS_OMITTED;
  return {
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => ({
      ...describe(context, groupId, committed),
      authorizedOperations,
    })),
  };
}
