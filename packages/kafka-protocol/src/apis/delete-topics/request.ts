/**
 * DeleteTopics Request (Version: 1-3) => [topic_names] timeout_ms
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** DeleteTopics request body. */
export interface DeleteTopicsRequest {
  readonly topicNames: readonly string[];
  readonly timeoutMs: number;
}

export const deleteTopicsRequest: MessageSchema = {
  name: 'DeleteTopicsRequest',
  flexibleFrom: 4,
  fields: [array('topicNames', 'string', '0-5'), field('timeoutMs', 'int32', '0+')],
};
