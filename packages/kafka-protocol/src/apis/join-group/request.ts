/**
 * JoinGroup Request (Version: 2-4) => group_id session_timeout_ms rebalance_timeout_ms member_id
 *                                     protocol_type [protocols]
 *   protocols => name metadata
 * JoinGroup Request (Version: 5) => group_id session_timeout_ms rebalance_timeout_ms member_id
 *                                   group_instance_id protocol_type [protocols]
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** JoinGroup request body. */
export interface JoinGroupRequest {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocols: readonly { readonly name: string; readonly metadata: Uint8Array }[];
  /** v8+: why the member joins (logged by Kafka; ignored here). */
  readonly reason?: string | null;
}

export const joinGroupRequest: MessageSchema = {
  name: 'JoinGroupRequest',
  flexibleFrom: 6,
  fields: [
    field('groupId', 'string', '0+'),
    field('sessionTimeoutMs', 'int32', '0+'),
    field('rebalanceTimeoutMs', 'int32', '1+', { default: -1 }),
    field('memberId', 'string', '0+'),
    field('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
    field('protocolType', 'string', '0+'),
    array('protocols', [field('name', 'string', '0+'), field('metadata', 'bytes', '0+')], '0+'),
    field('reason', 'string', '8+', { nullable: '8+', default: null }),
  ],
};
