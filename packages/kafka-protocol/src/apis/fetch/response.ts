/**
 * Fetch Response (Version: 4) => throttle_time_ms [responses]
 *   responses => topic [partitions]
 *   partitions => partition_index error_code high_watermark last_stable_offset [aborted_transactions] records
 *   aborted_transactions => producer_id first_offset
 * Fetch Response (Version: 5-6) => ... partitions => partition_index error_code high_watermark
 *                                      last_stable_offset log_start_offset [aborted_transactions] records
 * Fetch Response (Version: 7-10) => throttle_time_ms error_code session_id [responses]
 * Fetch Response (Version: 11) => ... partitions => ... [aborted_transactions] preferred_read_replica records
 */
import { array, field, type MessageSchema, type RecordsValue } from '../../schema.ts';

/** One partition's data. */
export interface FetchPartitionResponse {
  readonly partitionIndex: number;
  readonly errorCode: number;
  readonly highWatermark: bigint;
  readonly lastStableOffset?: bigint;
  readonly logStartOffset?: bigint;
  readonly abortedTransactions?:
    | readonly { readonly producerId: bigint; readonly firstOffset: bigint }[]
    | null;
  readonly preferredReadReplica?: number;
  /** Whole record batches back to back (encoding accepts a list of buffers, written without copying). */
  readonly records: RecordsValue;
}

/** Fetch response body. */
export interface FetchResponse {
  readonly throttleTimeMs: number;
  readonly errorCode?: number;
  readonly sessionId?: number;
  readonly responses: readonly {
    readonly topic: string;
    readonly partitions: readonly FetchPartitionResponse[];
  }[];
}

export const fetchResponse: MessageSchema = {
  name: 'FetchResponse',
  flexibleFrom: 12,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    field('errorCode', 'int16', '7+'),
    field('sessionId', 'int32', '7+', { default: 0 }),
    array(
      'responses',
      [
        field('topic', 'string', '0-12'),
        array(
          'partitions',
          [
            field('partitionIndex', 'int32', '0+'),
            field('errorCode', 'int16', '0+'),
            field('highWatermark', 'int64', '0+'),
            field('lastStableOffset', 'int64', '4+', { default: -1n }),
            field('logStartOffset', 'int64', '5+', { default: -1n }),
            array(
              'abortedTransactions',
              [field('producerId', 'int64', '4+'), field('firstOffset', 'int64', '4+')],
              '4+',
              { nullable: '4+' },
            ),
            field('preferredReadReplica', 'int32', '11+', { default: -1 }),
            field('records', 'records', '0+'),
          ],
          '0+',
        ),
      ],
      '0+',
    ),
  ],
};
