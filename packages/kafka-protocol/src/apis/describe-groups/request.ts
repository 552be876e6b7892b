/**
 * DescribeGroups Request (Version: 0-2) => [groups]
 *   groups => STRING
 * DescribeGroups Request (Version: 3) => [groups] include_authorized_operations
 * Not implemented: v4 (same request; the response adds group_instance_id), v5 (first flexible).
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** DescribeGroups request body. */
export interface DescribeGroupsRequest {
  readonly groups: readonly string[];
  readonly includeAuthorizedOperations: boolean;
}

export const describeGroupsRequest: MessageSchema = {
  name: 'DescribeGroupsRequest',
  flexibleFrom: 5,
  fields: [array('groups', 'string', '0+'), field('includeAuthorizedOperations', 'bool', '3+')],
};
