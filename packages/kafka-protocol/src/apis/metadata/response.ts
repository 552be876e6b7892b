/**
 * Metadata Response (Version: 0) => [brokers] [topics]
 *   brokers => node_id host port
 *   topics => error_code name [partitions]
 *     partitions => error_code partition_index leader_id [replica_nodes] [isr_nodes]
 * Metadata Response (Version: 1) => [brokers] controller_id [topics]
 *   brokers => node_id host port rack;  topics => error_code name is_internal [partitions]
 * Metadata Response (Version: 2) => [brokers] cluster_id controller_id [topics]
 * Metadata Response (Version: 3-4) => throttle_time_ms [brokers] cluster_id controller_id [topics]
 * Metadata Response (Version: 5-6) => ... partitions => ... [isr_nodes] [offline_replicas]
 * Metadata Response (Version: 7) => ... partitions => error_code partition_index leader_id leader_epoch
 *                                        [replica_nodes] [isr_nodes] [offline_replicas]
 * Metadata Response (Version: 8) => ... topics => ... [partitions] topic_authorized_operations
 *                                   then cluster_authorized_operations
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** A broker in the cluster (this server alone). */
export interface MetadataBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack?: string | null;
}

/** A partition's leadership. */
export interface MetadataPartition {
  readonly errorCode: number;
  readonly partitionIndex: number;
  readonly leaderId: number;
  readonly leaderEpoch?: number;
  readonly replicaNodes: readonly number[];
  readonly isrNodes: readonly number[];
  readonly offlineReplicas?: readonly number[];
}

/** A topic and its partitions. */
export interface MetadataTopic {
  readonly errorCode: number;
  /** Null only from v12, for a topic asked for by an unknown id. */
  readonly name: string | null;
  /** v10+: the zero id here (topic ids are not kept). */
  readonly topicId?: string;
  readonly isInternal?: boolean;
  readonly partitions: readonly MetadataPartition[];
  readonly topicAuthorizedOperations?: number;
}

/** Metadata response body. */
export interface MetadataResponse {
  readonly throttleTimeMs?: number;
  readonly brokers: readonly MetadataBroker[];
  readonly clusterId?: string | null;
  readonly controllerId?: number;
  readonly topics: readonly MetadataTopic[];
  readonly clusterAuthorizedOperations?: number;
}

const AUTHORIZED_OPERATIONS_UNKNOWN = -2147483648;

export const metadataResponse: MessageSchema = {
  name: 'MetadataResponse',
  flexibleFrom: 9,
  fields: [
    field('throttleTimeMs', 'int32', '3+'),
    array(
      'brokers',
      [
        field('nodeId', 'int32', '0+'),
        field('host', 'string', '0+'),
        field('port', 'int32', '0+'),
        field('rack', 'string', '1+', { nullable: '1+', default: null }),
      ],
      '0+',
    ),
    field('clusterId', 'string', '2+', { nullable: '2+', default: null }),
    field('controllerId', 'int32', '1+', { default: -1 }),
    array(
      'topics',
      [
        field('errorCode', 'int16', '0+'),
        field('name', 'string', '0+', { nullable: '12+' }),
        field('topicId', 'uuid', '10+'),
        field('isInternal', 'bool', '1+', { default: false }),
        array(
          'partitions',
          [
            field('errorCode', 'int16', '0+'),
            field('partitionIndex', 'int32', '0+'),
            field('leaderId', 'int32', '0+'),
            field('leaderEpoch', 'int32', '7+', { default: -1 }),
            array('replicaNodes', 'int32', '0+'),
            array('isrNodes', 'int32', '0+'),
            array('offlineReplicas', 'int32', '5+'),
          ],
          '0+',
        ),
        field('topicAuthorizedOperations', 'int32', '8+', { default: AUTHORIZED_OPERATIONS_UNKNOWN }),
      ],
      '0+',
    ),
    field('clusterAuthorizedOperations', 'int32', '8-10', { default: AUTHORIZED_OPERATIONS_UNKNOWN }),
  ],
};
