/**
 * DescribeGroups Response (Version: 0) => [groups]
 *   groups => error_code group_id group_state protocol_type protocol_data [members]
 *     members => member_id client_id client_host member_metadata member_assignment
 * DescribeGroups Response (Version: 1-2) => throttle_time_ms [groups]
 * DescribeGroups Response (Version: 3) => throttle_time_ms [groups]
 *   groups => ... [members] authorized_operations
 * Not implemented: v4 (members gain group_instance_id), v5 (first flexible version).
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** Kafka's "authorized operations not requested" value (INT32_MIN). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

/** One member of a described group. */
export interface DescribedGroupMember {
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly memberMetadata: Uint8Array;
  readonly memberAssignment: Uint8Array;
}

/** One described group. */
export interface DescribedGroup {
  readonly errorCode: number;
  readonly groupId: string;
  readonly groupState: string;
  readonly protocolType: string;
  readonly protocolData: string;
  readonly members: readonly DescribedGroupMember[];
  readonly authorizedOperations?: number;
}

/** DescribeGroups response body. */
export interface DescribeGroupsResponse {
  readonly throttleTimeMs?: number;
  readonly groups: readonly DescribedGroup[];
}

export const describeGroupsResponse: MessageSchema = {
  name: 'DescribeGroupsResponse',
  flexibleFrom: 5,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    array(
      'groups',
      [
        field('errorCode', 'int16', '0+'),
        field('groupId', 'string', '0+'),
        field('groupState', 'string', '0+'),
        field('protocolType', 'string', '0+'),
        field('protocolData', 'string', '0+'),
        array(
          'members',
          [
            field('memberId', 'string', '0+'),
            field('groupInstanceId', 'string', '4+', { nullable: '4+', default: null }),
            field('clientId', 'string', '0+'),
            field('clientHost', 'string', '0+'),
            field('memberMetadata', 'bytes', '0+'),
            field('memberAssignment', 'bytes', '0+'),
          ],
          '0+',
        ),
        field('authorizedOperations', 'int32', '3+', { default: AUTHORIZED_OPERATIONS_OMITTED }),
      ],
      '0+',
    ),
  ],
};
