/**
 * CreateTopics Request (Version: 2-4) => [topics] timeout_ms validate_only
 *   topics => name num_partitions replication_factor [assignments] [configs]
 *   assignments => partition_index [broker_ids];  configs => name value
 * (v4 only changes semantics: -1 partitions or replication factor means the broker default.)
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One topic to create. */
export interface CreatableTopic {
  readonly name: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly assignments: readonly { readonly partitionIndex: number; readonly brokerIds: readonly number[] }[];
  readonly configs: readonly { readonly name: string; readonly value: string | null }[];
}

/** CreateTopics request body. */
export interface CreateTopicsRequest {
  readonly topics: readonly CreatableTopic[];
  readonly timeoutMs: number;
  readonly validateOnly: boolean;
}

export const createTopicsRequest: MessageSchema = {
  name: 'CreateTopicsRequest',
  flexibleFrom: 5,
  fields: [
    array(
      'topics',
      [
        field('name', 'string', '0+'),
        field('numPartitions', 'int32', '0+'),
        field('replicationFactor', 'int16', '0+'),
        array(
          'assignments',
          [field('partitionIndex', 'int32', '0+'), array('brokerIds', 'int32', '0+')],
          '0+',
        ),
        array(
          'configs',
          [field('name', 'string', '0+'), field('value', 'string', '0+', { nullable: '0+' })],
          '0+',
        ),
      ],
      '0+',
    ),
    field('timeoutMs', 'int32', '0+', { default: 60000 }),
    field('validateOnly', 'bool', '1+', { default: false }),
  ],
};
