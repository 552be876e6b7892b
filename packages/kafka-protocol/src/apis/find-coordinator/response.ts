/**
 * FindCoordinator Response (Version: 0) => error_code node_id host port
 * FindCoordinator Response (Version: 1-2) => throttle_time_ms error_code error_message node_id host port
 * FindCoordinator Response (Version: 3) => the same, flexible
 * FindCoordinator Response (Version: 4-6) => throttle_time_ms [coordinators]
 *   coordinators => key node_id host port error_code error_message
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** FindCoordinator response body. */
export interface FindCoordinatorResponse {
  readonly throttleTimeMs?: number;
  readonly errorCode: number;
  readonly errorMessage?: string | null;
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** v4+: one answer per requested key (the single-key fields are absent). */
  readonly coordinators?: readonly {
    readonly key: string;
    readonly nodeId: number;
    readonly host: string;
    readonly port: number;
    readonly errorCode: number;
    readonly errorMessage: string | null;
  }[];
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
    array(
      'coordinators',
      [
        field('key', 'string', '4+'),
        field('nodeId', 'int32', '4+'),
        field('host', 'string', '4+'),
        field('port', 'int32', '4+'),
        field('errorCode', 'int16', '4+'),
        field('errorMessage', 'string', '4+', { nullable: '4+', default: null }),
      ],
      '4+',
    ),
  ],
};
