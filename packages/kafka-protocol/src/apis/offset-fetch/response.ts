/**
 * OffsetFetch Response (Version: 1) => [topics]
 *   topics => name [partitions];  partitions => partition_index committed_offset metadata error_code
 * OffsetFetch Response (Version: 2) => [topics] error_code
 * OffsetFetch Response (Version: 3-4) => throttle_time_ms [topics] error_code
 * OffsetFetch Response (Version: 5-7) => ... partitions => partition_index committed_offset
 *                                          committed_leader_epoch metadata error_code
 *                                          (flexible from v6)
 * An uncommitted partition reports offset -1 and metadata "" (never null).
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One partition's committed offset. */
export interface OffsetFetchPartition {
  readonly partitionIndex: number;
  readonly committedOffset: bigint;
  readonly committedLeaderEpoch?: number;
  readonly metadata: string | null;
  readonly errorCode: number;
}

/** OffsetFetch response body. */
export interface OffsetFetchResponse {
  readonly throttleTimeMs?: number;
  readonly topics: readonly { readonly name: string; readonly partitions: readonly OffsetFetchPartition[] }[];
  readonly errorCode?: number;
}

export const offsetFetchResponse: MessageSchema = {
  name: 'OffsetFetchResponse',
  flexibleFrom: 6,
  fields: [
    field('throttleTimeMs', 'int32', '3+'),
    array(
      'topics',
      [
        field('name', 'string', '0-7'),
        array(
          'partitions',
          [
            field('partitionIndex', 'int32', '0-7'),
            field('committedOffset', 'int64', '0-7'),
            field('committedLeaderEpoch', 'int32', '5-7', { default: -1 }),
            field('metadata', 'string', '0-7', { nullable: '0-7' }),
            field('errorCode', 'int16', '0-7'),
          ],
          '0-7',
        ),
      ],
      '0-7',
    ),
    field('errorCode', 'int16', '2-7', { default: 0 }),
  ],
};
