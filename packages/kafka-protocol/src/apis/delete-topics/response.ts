/**
 * DeleteTopics Response (Version: 1-3) => throttle_time_ms [responses]
 *   responses => name error_code
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** DeleteTopics response body. */
export interface DeleteTopicsResponse {
  readonly throttleTimeMs: number;
  readonly responses: readonly { readonly name: string; readonly errorCode: number }[];
}

export const deleteTopicsResponse: MessageSchema = {
  name: 'DeleteTopicsResponse',
  flexibleFrom: 4,
  fields: [
    field('throttleTimeMs', 'int32', '1+'),
    array(
      'responses',
      [field('name', 'string', '0+', { nullable: '6+' }), field('errorCode', 'int16', '0+')],
      '0+',
    ),
  ],
};
