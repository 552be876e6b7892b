/**
 * ListOffsets Response (Version: 1) => [topics]
 *   topics => name [partitions];  partitions => partition_index error_code timestamp offset
 * ListOffsets Response (Version: 2-3) => throttle_time_ms [topics]
 * ListOffsets Response (Version: 4-5) => ... partitions => partition_index error_code timestamp offset leader_epoch
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** ListOffsets response body. */
export interface ListOffsetsResponse {
  readonly throttleTimeMs?: number;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly errorCode: number;
      readonly timestamp: bigint;
      readonly offset: bigint;
      readonly leaderEpoch?: number;
    }[];
  }[];
}

export const listOffsetsResponse: MessageSchema = {
  name: 'ListOffsetsResponse',
  flexibleFrom: 6,
  fields: [
    field('throttleTimeMs', 'int32', '2+'),
    array(
      'topics',
      [
        field('name', 'string', '0+'),
        array(
          'partitions',
          [
            field('partitionIndex', 'int32', '0+'),
            field('errorCode', 'int16', '0+'),
            array('oldStyleOffsets', 'int64', '0'),
            field('timestamp', 'int64', '1+', { default: -1n }),
            field('offset', 'int64', '1+', { default: -1n }),
            field('leaderEpoch', 'int32', '4+', { default: -1 }),
          ],
          '0+',
        ),
      ],
      '0+',
    ),
  ],
};
