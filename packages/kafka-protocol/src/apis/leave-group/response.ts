/**
 * LeaveGroup Response (Version: 0) => error_code
 * LeaveGroup Response (Version: 1-2) => throttle_time_ms error_code
 * LeaveGroup Response (Version: 3) => throttle_time_ms error_code [members]
 *   members => member_id group_instance_id error_code
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** LeaveGroup response body. */
export interface LeaveGroupResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
  readonly members?: readonly {
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly errorCode: number;
  }[];
}

export const leaveGroupResponse: MessageSchema = {
  name: 'LeaveGroupResponse',
  flexibleFrom: 4,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    field('errorCode', 'int16', '0+'),
    array(
      'members',
      [
        field('memberId', 'string', '3+'),
        field('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
        field('errorCode', 'int16', '3+'),
      ],
      '3+',
    ),
  ],
};
