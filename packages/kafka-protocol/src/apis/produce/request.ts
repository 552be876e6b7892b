/**
 * Produce Request (Version: 0-2) => acks timeout_ms [topic_data]
 *   topic_data => name [partition_data];  partition_data => index records
 * Produce Request (Version: 3-8) => transactional_id acks timeout_ms [topic_data]
 * This server advertises 0-8 (librdkafka 2.0 gates compression on v0 being advertised) and answers
 * v0-2 with UNSUPPORTED_FOR_MESSAGE_FORMAT: only RecordBatch v2 (magic 2) is stored.
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One partition's records. */
export interface ProducePartitionData {
  readonly index: number;
  /** Record batches as sent (a view into the request frame), or null. */
  readonly records: Uint8Array | null;
}

/** Produce request body. */
export interface ProduceRequest {
  readonly transactionalId: string | null;
  /** 0 (no response), 1 (leader) or -1 (all). */
  readonly acks: number;
  readonly timeoutMs: number;
  readonly topicData: readonly {
    readonly name: string;
    readonly partitionData: readonly ProducePartitionData[];
  }[];
}

export const produceRequest: MessageSchema = {
  name: 'ProduceRequest',
  flexibleFrom: 9,
  fields: [
    field('transactionalId', 'string', '3+', { nullable: '3+', default: null }),
    field('acks', 'int16', '0+'),
    field('timeoutMs', 'int32', '0+'),
    array(
      'topicData',
      [
        field('name', 'string', '0+'),
        array(
          'partitionData',
          [field('index', 'int32', '0+'), field('records', 'records', '0+', { nullable: '0+' })],
          '0+',
        ),
      ],
      '0+',
    ),
  ],
};
