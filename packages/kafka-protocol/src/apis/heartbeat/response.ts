/**
 * Heartbeat Response (Version: 0) => error_code
 * Heartbeat Response (Version: 1-3) => throttle_time_ms error_code
 */
import { field, type MessageSchema } from '../../schema.ts';

/** Heartbeat response body. */
export interface HeartbeatResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
}

export const heartbeatResponse: MessageSchema = {
  name: 'HeartbeatResponse',
  flexibleFrom: 4,
  fields: [field('throttleTimeMs', 'int32', '1+'), field('errorCode', 'int16', '0+')],
};
