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
            // Tagged (v12+) hints for followers and KIP-320/KIP-951 clients: never sent by a single node.
            field(
              'divergingEpoch',
              [
                field('epoch', 'int32', '12+', { default: -1 }),
                field('endOffset', 'int64', '12+', { default: -1n }),
              ],
              '12+',
              { tag: 0, tagged: '12+' },
            ),
            field(
              'currentLeader',
              [
                field('leaderId', 'int32', '12+', { default: -1 }),
                field('leaderEpoch', 'int32', '12+', { default: -1 }),
              ],
              '12+',
              { tag: 1, tagged: '12+' },
            ),
            field(
              'snapshotId',
              [
                field('endOffset', 'int64', '0+', { default: -1n }),
                field('epoch', 'int32', '0+', { default: -1 }),
              ],
              '12+',
              { tag: 2, tagged: '12+' },
            ),
            array(
              'abortedTransactions',
              [field('producerId', 'int64', '4+'), field('firstOffset', 'int64', '4+')],
              '4+',
              { nullable: '4+' },
            ),
            field('preferredReadReplica', 'int32', '11+', { default: -1 }),
            field('records', 'records', '0+', { nullable: '0+' }),
          ],
          '0+',
        ),
      ],
      '0+',
    ),
  ],
};
