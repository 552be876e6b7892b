/**
 * LeaveGroup Request (Version: 0-2) => group_id member_id
 * LeaveGroup Request (Version: 3) => group_id [members]
 *   members => member_id group_instance_id
 * LeaveGroup Request (Version: 4) => the same, flexible (compact strings and arrays, tagged fields)
 * LeaveGroup Request (Version: 5) => group_id [members]
 *   members => member_id group_instance_id reason
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** LeaveGroup request body (`memberId` below v3, `members` from v3). */
export interface LeaveGroupRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly members: readonly {
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly reason?: string | null;
  }[];
}

export const leaveGroupRequest: MessageSchema = {
  name: 'LeaveGroupRequest',
  flexibleFrom: 4,
  fields: [
    field('groupId', 'string', '0+'),
    field('memberId', 'string', '0-2'),
    array(
      'members',
      [
        field('memberId', 'string', '3+'),
        field('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
        field('reason', 'string', '5+', { nullable: '5+', default: null }),
      ],
      '3+',
    ),
  ],
};
