/**
 * SyncGroup Request (Version: 0-2) => group_id generation_id member_id [assignments]
 *   assignments => member_id assignment
 * SyncGroup Request (Version: 3) => group_id generation_id member_id group_instance_id [assignments]
 * SyncGroup Request (Version: 4) => the same, flexible
 * SyncGroup Request (Version: 5) => group_id generation_id member_id group_instance_id protocol_type
 *   protocol_name [assignments]
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** SyncGroup request body. */
export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Uint8Array }[];
}

export const syncGroupRequest: MessageSchema = {
  name: 'SyncGroupRequest',
  flexibleFrom: 4,
  fields: [
    field('groupId', 'string', '0+'),
    field('generationId', 'int32', '0+'),
    field('memberId', 'string', '0+'),
    field('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
    field('protocolType', 'string', '5+', { nullable: '5+', default: null }),
    field('protocolName', 'string', '5+', { nullable: '5+', default: null }),
    array('assignments', [field('memberId', 'string', '0+'), field('assignment', 'bytes', '0+')], '0+'),
  ],
};
