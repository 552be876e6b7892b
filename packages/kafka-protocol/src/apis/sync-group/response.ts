/**
 * SyncGroup Response (Version: 0) => error_code assignment
 * SyncGroup Response (Version: 1-3) => throttle_time_ms error_code assignment
 */
import { field, type MessageSchema } from '../../schema.ts';

/** SyncGroup response body. */
export interface SyncGroupResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
  readonly assignment: Uint8Array;
}

export const syncGroupResponse: MessageSchema = {
  name: 'SyncGroupResponse',
  flexibleFrom: 4,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    field('errorCode', 'int16', '0+'),
    field('assignment', 'bytes', '0+'),
  ],
};
