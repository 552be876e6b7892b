/**
 * ListOffsets Request (Version: 1) => replica_id [topics]
 *   topics => name [partitions];  partitions => partition_index timestamp
 * ListOffsets Request (Version: 2-3) => replica_id isolation_level [topics]
 * ListOffsets Request (Version: 4-5) => ... partitions => partition_index current_leader_epoch timestamp
 * Timestamp -2 asks for the earliest offset, -1 for the latest, anything else for the first
 * record at or after that time.
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** ListOffsets request body. */
export interface ListOffsetsRequest {
  readonly replicaId: number;
  readonly isolationLevel: number;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly currentLeaderEpoch: number;
      readonly timestamp: bigint;
    }[];
  }[];
}

/** Special timestamp of a ListOffsets request: the offset the next record will get. */
export const LIST_OFFSETS_LATEST = -1n;
/** Special timestamp of a ListOffsets request: the earliest offset still stored. */
export const LIST_OFFSETS_EARLIEST = -2n;

export const listOffsetsRequest: MessageSchema = {
  name: 'ListOffsetsRequest',
  flexibleFrom: 6,
  fields: [
    field('replicaId', 'int32', '0+'),
    field('isolationLevel', 'int8', '2+'),
    array(
      'topics',
      [
        field('name', 'string', '0+'),
        array(
          'partitions',
          [
            field('partitionIndex', 'int32', '0+'),
            field('currentLeaderEpoch', 'int32', '4+', { default: -1 }),
            field('timestamp', 'int64', '0+'),
            field('maxNumOffsets', 'int32', '0', { default: 1 }),
          ],
          '0+',
        ),
      ],
      '0+',
    ),
  ],
};
