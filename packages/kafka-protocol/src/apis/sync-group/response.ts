/**
 * SyncGroup Response (Version: 0) => error_code assignment
 * SyncGroup Response (Version: 1-3) => throttle_time_ms error_code assignment
 * SyncGroup Response (Version: 4) => the same, flexible
 * SyncGroup Response (Version: 5) => throttle_time_ms error_code protocol_type protocol_name assignment
 */
import { field, type MessageSchema } from '../../schema.ts';

/** SyncGroup response body. */
export interface SyncGroupResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
  /** v5: the group's protocol type and chosen protocol (null when unknown). */
  readonly protocolType?: string | null;
  readonly protocolName?: string | null;
  readonly assignment: Uint8Array;
}

export const syncGroupResponse: MessageSchema = {
  name: 'SyncGroupResponse',
  flexibleFrom: 4,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    field('errorCode', 'int16', '0+'),
    field('protocolType', 'string', '5+', { nullable: '5+', default: null }),
    field('protocolName', 'string', '5+', { nullable: '5+', default: null }),
    field('assignment', 'bytes', '0+'),
  ],
};
