/**
 * CreateTopics Response (Version: 2-4) => throttle_time_ms [topics]
 *   topics => name error_code error_message
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** CreateTopics response body. */
export interface CreateTopicsResponse {
  readonly throttleTimeMs: number;
  readonly topics: readonly {
    readonly name: string;
    readonly errorCode: number;
    readonly errorMessage: string | null;
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
        field('errorCode', 'int16', '0+'),
        field('errorMessage', 'string', '1+', { nullable: '0+', default: null }),
      ],
      '0+',
    ),
  ],
};
