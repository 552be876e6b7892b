/**
 * Produce Response (Version: 0) => [responses]
 *   responses => name [partition_responses];  partition_responses => index error_code base_offset
 * Produce Response (Version: 1) => [responses] throttle_time_ms
 * Produce Response (Version: 2-4) => ... partition_responses => index error_code base_offset log_append_time_ms
 * Produce Response (Version: 5-7) => ... partition_responses => ... log_append_time_ms log_start_offset
 * Produce Response (Version: 8) => ... partition_responses => ... log_start_offset [record_errors] error_message
 *   record_errors => batch_index batch_index_error_message
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One partition's outcome. */
export interface ProducePartitionResponse {
  readonly index: number;
  readonly errorCode: number;
  readonly baseOffset: bigint;
  readonly logAppendTimeMs?: bigint;
  readonly logStartOffset?: bigint;
  readonly recordErrors?: readonly {
    readonly batchIndex: number;
    readonly batchIndexErrorMessage: string | null;
  }[];
  readonly errorMessage?: string | null;
}

/** Produce response body. */
export interface ProduceResponse {
  readonly responses: readonly {
    readonly name: string;
    readonly partitionResponses: readonly ProducePartitionResponse[];
  }[];
  readonly throttleTimeMs?: number;
}

export const produceResponse: MessageSchema = {
  name: 'ProduceResponse',
  flexibleFrom: 9,
  fields: [
    array(
      'responses',
      [
        field('name', 'string', '0+'),
        array(
          'partitionResponses',
          [
            field('index', 'int32', '0+'),
            field('errorCode', 'int16', '0+'),
            field('baseOffset', 'int64', '0+'),
            field('logAppendTimeMs', 'int64', '2+', { default: -1n }),
            field('logStartOffset', 'int64', '5+', { default: -1n }),
            array(
              'recordErrors',
              [
                field('batchIndex', 'int32', '8+'),
                field('batchIndexErrorMessage', 'string', '8+', { nullable: '8+', default: null }),
              ],
              '8+',
            ),
            field('errorMessage', 'string', '8+', { nullable: '8+', default: null }),
            // KIP-951 hints for clients after NOT_LEADER_OR_FOLLOWER: never sent by a single node.
            field(
              'currentLeader',
              [
                field('leaderId', 'int32', '10+', { default: -1 }),
                field('leaderEpoch', 'int32', '10+', { default: -1 }),
              ],
              '10+',
              { tag: 0, tagged: '10+' },
            ),
          ],
          '0+',
        ),
      ],
      '0+',
    ),
    field('throttleTimeMs', 'int32', '1+', { default: 0 }),
    array(
      'nodeEndpoints',
      [
        field('nodeId', 'int32', '10+'),
        field('host', 'string', '10+'),
        field('port', 'int32', '10+'),
        field('rack', 'string', '10+', { nullable: '10+', default: null }),
      ],
      '10+',
      { tag: 0, tagged: '10+' },
    ),
  ],
};
