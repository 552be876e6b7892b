/**
 * CreateTopics Response (Version: 2-4) => throttle_time_ms [topics]
 *   topics => name error_code error_message
 * CreateTopics Response (Version: 5-6) => throttle_time_ms [topics]   (flexible)
 *   topics => name error_code error_message num_partitions replication_factor [configs]
 *     (tag 0: topic_config_error_code);  configs => name value read_only config_source is_sensitive
 * CreateTopics Response (Version: 7) => ... topics => name topic_id error_code ...
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** CreateTopics response body. */
export interface CreateTopicsResponse {
  readonly throttleTimeMs: number;
  readonly topics: readonly {
    readonly name: string;
    readonly errorCode: number;
    readonly errorMessage: string | null;
    /** v5+: the created topic's partitions and replication factor (-1 when not reported). */
    readonly numPartitions?: number;
    readonly replicationFactor?: number;
    /** v5+: the created topic's configuration (empty when not reported). */
    readonly configs?: readonly {
      readonly name: string;
      readonly value: string | null;
      readonly readOnly: boolean;
      readonly configSource: number;
      readonly isSensitive: boolean;
    }[];
  }[];
}

export const createTopicsResponse: MessageSchema = {
  name: 'CreateTopicsResponse',
  flexibleFrom: 5,
  fields: [
    field('throttleTimeMs', 'int32', '2+'),
    array(
      'topics',
      [
        field('name', 'string', '0+'),
        field('topicId', 'uuid', '7+'),
        field('errorCode', 'int16', '0+'),
        field('errorMessage', 'string', '1+', { nullable: '0+', default: null }),
        field('topicConfigErrorCode', 'int16', '5+', { tag: 0, tagged: '5+', default: 0 }),
        field('numPartitions', 'int32', '5+', { default: -1 }),
        field('replicationFactor', 'int16', '5+', { default: -1 }),
        array(
          'configs',
          [
            field('name', 'string', '5+'),
            field('value', 'string', '5+', { nullable: '5+', default: null }),
            field('readOnly', 'bool', '5+'),
            field('configSource', 'int8', '5+', { default: -1 }),
            field('isSensitive', 'bool', '5+'),
          ],
          '5+',
          { nullable: '5+' },
        ),
      ],
      '0+',
    ),
  ],
};
