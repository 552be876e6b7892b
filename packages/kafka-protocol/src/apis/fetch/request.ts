/**
 * Fetch Request (Version: 4) => replica_id max_wait_ms min_bytes max_bytes isolation_level [topics]
 *   topics => topic [partitions];  partitions => partition fetch_offset partition_max_bytes
 * Fetch Request (Version: 5-6) => ... partitions => partition fetch_offset log_start_offset partition_max_bytes
 * Fetch Request (Version: 7-8) => replica_id max_wait_ms min_bytes max_bytes isolation_level session_id
 *                                 session_epoch [topics] [forgotten_topics_data]
 *   forgotten_topics_data => topic [partitions]
 * Fetch Request (Version: 9-10) => ... partitions => partition current_leader_epoch fetch_offset
 *                                      log_start_offset partition_max_bytes
 * Fetch Request (Version: 11) => ... [topics] [forgotten_topics_data] rack_id
 * Fetch Request (Version: 12) => the same, flexible; partitions gain last_fetched_epoch, the request
 *   a tagged cluster_id (tag 0). Fetch 13+ names topics by id, which this server does not keep.
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** One partition to fetch. */
export interface FetchPartition {
  readonly partition: number;
  readonly currentLeaderEpoch: number;
  readonly fetchOffset: bigint;
  /** v12+: the epoch of the last fetched record (-1 here: leader epochs are not kept). */
  readonly lastFetchedEpoch?: number;
  readonly logStartOffset: bigint;
  readonly partitionMaxBytes: number;
}

/** Fetch request body. */
export interface FetchRequest {
  readonly replicaId: number;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly isolationLevel: number;
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly FetchPartition[] }[];
  readonly forgottenTopicsData: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
  readonly rackId: string;
  /** v12+ (tagged): the cluster the client expects; null when it does not say. */
  readonly clusterId?: string | null;
}

export const fetchRequest: MessageSchema = {
  name: 'FetchRequest',
  flexibleFrom: 12,
  fields: [
    field('clusterId', 'string', '12+', { nullable: '12+', tag: 0, tagged: '12+', default: null }),
    field('replicaId', 'int32', '0-14', { default: -1 }),
    field('maxWaitMs', 'int32', '0+'),
    field('minBytes', 'int32', '0+'),
    field('maxBytes', 'int32', '3+', { default: 0x7fffffff }),
    field('isolationLevel', 'int8', '4+', { default: 0 }),
    field('sessionId', 'int32', '7+', { default: 0 }),
    field('sessionEpoch', 'int32', '7+', { default: -1 }),
    array(
      'topics',
      [
        field('topic', 'string', '0-12'),
        array(
          'partitions',
          [
            field('partition', 'int32', '0+'),
            field('currentLeaderEpoch', 'int32', '9+', { default: -1 }),
            field('fetchOffset', 'int64', '0+'),
            field('lastFetchedEpoch', 'int32', '12+', { default: -1 }),
            field('logStartOffset', 'int64', '5+', { default: -1n }),
            field('partitionMaxBytes', 'int32', '0+'),
          ],
          '0+',
        ),
      ],
      '0+',
    ),
    array(
      'forgottenTopicsData',
      [field('topic', 'string', '7-12'), array('partitions', 'int32', '7+')],
      '7+',
    ),
    field('rackId', 'string', '11+', { default: '' }),
  ],
};
