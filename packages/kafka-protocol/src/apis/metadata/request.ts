/**
 * Metadata Request (Version: 0) => [topics]          topics => name (an empty array means all topics)
 * Metadata Request (Version: 1-3) => [topics]        (nullable: null means all topics)
 * Metadata Request (Version: 4-7) => [topics] allow_auto_topic_creation
 * Metadata Request (Version: 8) => [topics] allow_auto_topic_creation
 *                                  include_cluster_authorized_operations include_topic_authorized_operations
 * Metadata Request (Version: 9) => the same, flexible
 * Metadata Request (Version: 10) => [topics] ...;  topics => topic_id name (name nullable: by id)
 * Metadata Request (Version: 11-12) => [topics] allow_auto_topic_creation include_topic_authorized_operations
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** Metadata request body. */
export interface MetadataRequest {
  /** Topics asked for; null (v1+) or empty (v0) means every topic. */
  readonly topics: readonly { readonly name: string | null; readonly topicId?: string }[] | null;
  /** v4+; true below v4 (Kafka auto-creates topics named in v0-3 requests). */
  readonly allowAutoTopicCreation: boolean;
  readonly includeClusterAuthorizedOperations: boolean;
  readonly includeTopicAuthorizedOperations: boolean;
}

export const metadataRequest: MessageSchema = {
  name: 'MetadataRequest',
  flexibleFrom: 9,
  fields: [
    array(
      'topics',
      [field('topicId', 'uuid', '10+'), field('name', 'string', '0+', { nullable: '10+' })],
      '0+',
      { nullable: '1+' },
    ),
    field('allowAutoTopicCreation', 'bool', '4+', { default: true }),
    field('includeClusterAuthorizedOperations', 'bool', '8-10'),
    field('includeTopicAuthorizedOperations', 'bool', '8+'),
  ],
};
