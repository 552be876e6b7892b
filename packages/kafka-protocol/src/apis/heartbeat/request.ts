/**
 * Heartbeat Request (Version: 0-2) => group_id generation_id member_id
 * Heartbeat Request (Version: 3) => group_id generation_id member_id group_instance_id
 */
import { field, type MessageSchema } from '../../schema.ts';

/** Heartbeat request body. */
export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export const heartbeatRequest: MessageSchema = {
  name: 'HeartbeatRequest',
  flexibleFrom: 4,
  fields: [
    field('groupId', 'string', '0+'),
    field('generationId', 'int32', '0+'),
    field('memberId', 'string', '0+'),
    field('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
  ],
};
