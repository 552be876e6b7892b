/**
 * JoinGroup Response (Version: 2-4) => throttle_time_ms error_code generation_id protocol_name leader
 *                                      member_id [members]
 *   members => member_id metadata
 * JoinGroup Response (Version: 5) => ... members => member_id group_instance_id metadata
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** A member, as the leader sees it. */
export interface JoinGroupMember {
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  readonly metadata: Uint8Array;
}

/** JoinGroup response body. */
export interface JoinGroupResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
  readonly generationId: number;
  /** v7+: the group's protocol type (null when unknown). */
  readonly protocolType?: string | null;
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  readonly members: readonly JoinGroupMember[];
}

export const joinGroupResponse: MessageSchema = {
  name: 'JoinGroupResponse',
  flexibleFrom: 6,
  fields: [
    field('throttleTimeMs', 'int32', '2+'),
    field('errorCode', 'int16', '0+'),
    field('generationId', 'int32', '0+', { default: -1 }),
    field('protocolType', 'string', '7+', { nullable: '7+', default: null }),
    field('protocolName', 'string', '0+', { nullable: '7+' }),
    field('leader', 'string', '0+'),
    field('skipAssignment', 'bool', '9+', { default: false }),
    field('memberId', 'string', '0+'),
    array(
      'members',
      [
        field('memberId', 'string', '0+'),
        field('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
        field('metadata', 'bytes', '0+'),
      ],
      '0+',
    ),
  ],
};
