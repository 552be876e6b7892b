/**
 * OffsetCommit Request (Version: 2-4) => group_id generation_id member_id retention_time_ms [topics]
 *   topics => name [partitions];  partitions => partition_index committed_offset committed_metadata
 * OffsetCommit Request (Version: 5) => group_id generation_id member_id [topics]
 * OffsetCommit Request (Version: 6) => ... partitions => partition_index committed_offset
 *                                          committed_leader_epoch committed_metadata
 * OffsetCommit Request (Version: 7) => group_id generation_id member_id group_instance_id [topics]
 * Generation -1 with an empty member id is a simple consumer's commit outside any group.
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One partition's commit. */
export interface OffsetCommitPartition {
  readonly partitionIndex: number;
  readonly committedOffset: bigint;
  readonly committedLeaderEpoch: number;
  readonly committedMetadata: string | null;
}

/** OffsetCommit request body. */
export interface OffsetCommitRequest {
  readonly groupId: string;
  readonly generationIdOrMemberEpoch: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly retentionTimeMs: bigint;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly OffsetCommitPartition[];
  }[];
}

export const offsetCommitRequest: MessageSchema = {
  name: 'OffsetCommitRequest',
  flexibleFrom: 8,
  fields: [
    field('groupId', 'string', '0+'),
    field('generationIdOrMemberEpoch', 'int32', '1+', { default: -1 }),
    field('memberId', 'string', '1+'),
    field('groupInstanceId', 'string', '7+', { nullable: '7+', default: null }),
    field('retentionTimeMs', 'int64', '2-4', { default: -1n }),
    array(
      'topics',
      [
        field('name', 'string', '0+'),
        array(
          'partitions',
          [
            field('partitionIndex', 'int32', '0+'),
            field('committedOffset', 'int64', '0+'),
            field('committedLeaderEpoch', 'int32', '6+', { default: -1 }),
            field('commitTimestamp', 'int64', '1', { default: -1n }),
            field('committedMetadata', 'string', '0+', { nullable: '0+' }),
          ],
          '0+',
        ),
      ],
      '0+',
    ),
  ],
};
