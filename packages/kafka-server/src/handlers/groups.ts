/**
 * JoinGroup (2-9), SyncGroup (0-5), Heartbeat (0-4) and LeaveGroup (0-5), relayed to the
 * coordinator; flexible from JoinGroup 6, SyncGroup, Heartbeat and LeaveGroup 4. JoinGroup v7+
 * and SyncGroup v5 name the group's protocol type (and SyncGroup its protocol), as Kafka does.
 */
import type {
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  SyncGroupRequest,
  SyncGroupResponse,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';

/** Handles JoinGroup; resolves when the rebalance completes. */
export async function handleJoinGroup(
  context: ServerContext,
  request: JoinGroupRequest,
  clientId: string | null,
  clientHost = '',
): Promise<JoinGroupResponse> {
  const result = await context.groups.join({
    groupId: request.groupId,
    memberId: request.memberId,
    groupInstanceId: request.groupInstanceId,
    clientId: clientId ?? '',
    clientHost,
    sessionTimeoutMs: request.sessionTimeoutMs,
    rebalanceTimeoutMs: request.rebalanceTimeoutMs,
    protocolType: request.protocolType,
    protocols: request.protocols,
  });
  const protocolType = result.errorCode === 0 ? request.protocolType : null;
  return { throttleTimeMs: 0, protocolType, ...result };
}

/** Handles SyncGroup; resolves once the leader has sent the assignment. */
export async function handleSyncGroup(
  context: ServerContext,
  request: SyncGroupRequest,
): Promise<SyncGroupResponse> {
  const result = await context.groups.sync(
    request.groupId,
    request.memberId,
    request.generationId,
    request.assignments,
  );
  const group = result.errorCode === 0 ? context.groups.describeGroup(request.groupId) : undefined;
  return {
    throttleTimeMs: 0,
    protocolType: group?.protocolType ?? null,
    protocolName: group?.protocolName ?? null,
    ...result,
  };
}

/** Handles Heartbeat. */
export function handleHeartbeat(context: ServerContext, request: HeartbeatRequest): HeartbeatResponse {
  return {
    throttleTimeMs: 0,
    errorCode: context.groups.heartbeat(request.groupId, request.memberId, request.generationId),
  };
}

/** Handles LeaveGroup (a single member below v3, a list from v3). */
export function handleLeaveGroup(
  context: ServerContext,
  request: LeaveGroupRequest,
  version: number,
): LeaveGroupResponse {
  if (version < 3) {
    return { throttleTimeMs: 0, errorCode: context.groups.leave(request.groupId, request.memberId) };
  }
  const members = request.members.map((member) => ({
    memberId: member.memberId,
    groupInstanceId: member.groupInstanceId,
    errorCode: context.groups.leave(request.groupId, member.memberId),
  }));
  return { throttleTimeMs: 0, errorCode: 0, members };
}
