/**
 * DeleteTopics Response (Version: 1-3) => throttle_time_ms [responses]
 *   responses => name error_code
 * DeleteTopics Response (Version: 4) => the same, flexible
 * DeleteTopics Response (Version: 5) => throttle_time_ms [responses]
 *   responses => name error_code error_message
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** DeleteTopics response body. */
export interface DeleteTopicsResponse {
  readonly throttleTimeMs: number;
  readonly responses: readonly {
    readonly name: string;
    readonly errorCode: number;
    /** v5+. */
    readonly errorMessage?: string | null;
  }[];
}

export const deleteTopicsResponse: MessageSchema = {
  name: 'DeleteTopicsResponse',
  flexibleFrom: 4,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    array(
      'responses',
      [
        field('name', 'string', '0+', { nullable: '6+' }),
        field('topicId', 'uuid', '6+'),
        field('errorCode', 'int16', '0+'),
        field('errorMessage', 'string', '5+', { nullable: '5+', default: null }),
      ],
      '0+',
    ),
  ],
};
