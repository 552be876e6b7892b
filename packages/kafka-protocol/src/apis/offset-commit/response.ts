/**
 * OffsetCommit Response (Version: 2) => [topics]
 *   topics => name [partitions];  partitions => partition_index error_code
 * OffsetCommit Response (Version: 3-7) => throttle_time_ms [topics]
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** OffsetCommit response body. */
export interface OffsetCommitResponse {
  readonly throttleTimeMs?: number;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly { readonly partitionIndex: number; readonly errorCode: number }[];
  }[];
}

export const offsetCommitResponse: MessageSchema = {
  name: 'OffsetCommitResponse',
  flexibleFrom: 8,
  fields: [
    field('throttleTimeMs', 'int32', '3+'),
    array(
      'topics',
      [
        field('name', 'string', '0+'),
        array(
          'partitions',
          [field('partitionIndex', 'int32', '0+'), field('errorCode', 'int16', '0+')],
          '0+',
        ),
      ],
      '0+',
    ),
  ],
};
