/**
 * FindCoordinator Response (Version: 0) => error_code node_id host port
 * FindCoordinator Response (Version: 1-2) => throttle_time_ms error_code error_message node_id host port
 */
import { field, type MessageSchema } from '../../schema.ts';

/** FindCoordinator response body. */
export interface FindCoordinatorResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
  readonly errorMessage?: string | null;
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export const findCoordinatorResponse: MessageSchema = {
  name: 'FindCoordinatorResponse',
  flexibleFrom: 3,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    field('errorCode', 'int16', '0-3'),
    field('errorMessage', 'string', '1-3', { nullable: '1-3', default: null }),
    field('nodeId', 'int32', '0-3'),
    field('host', 'string', '0-3'),
    field('port', 'int32', '0-3'),
  ],
};
