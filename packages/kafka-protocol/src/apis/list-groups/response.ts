/**
 * ListGroups Response (Version: 0) => error_code [groups]
 *   groups => group_id protocol_type
 * ListGroups Response (Version: 1-2) => throttle_time_ms error_code [groups]
 *   groups => group_id protocol_type
 * Not implemented: v3 (first flexible version), v4 group_state, v5 group_type.
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One listed group. */
export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  /** v4+. */
  readonly groupState?: string;
  /** v5+: "classic" for every group here. */
  readonly groupType?: string;
}

/** ListGroups response body. */
export interface ListGroupsResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
  readonly groups: readonly ListedGroup[];
}

export const listGroupsResponse: MessageSchema = {
  name: 'ListGroupsResponse',
  flexibleFrom: 3,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    field('errorCode', 'int16', '0+'),
    array(
      'groups',
      [
        field('groupId', 'string', '0+'),
        field('protocolType', 'string', '0+'),
        field('groupState', 'string', '4+'),
        field('groupType', 'string', '5+'),
      ],
      '0+',
    ),
  ],
};
