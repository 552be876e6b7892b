/**
 * ListGroups Request (Version: 0-2) =>
 *   (an empty body)
 * Not implemented: v3 (first flexible version), v4 states_filter (KIP-518), v5 types_filter
 * (KIP-848). Their fields are declared so the schema matches Kafka's ListGroupsRequest.json.
 */
import { array, type MessageSchema } from '../../schema.ts';

/** ListGroups request body (empty in every implemented version). */
export interface ListGroupsRequest {
  readonly statesFilter?: readonly string[];
  readonly typesFilter?: readonly string[];
}

export const listGroupsRequest: MessageSchema = {
  name: 'ListGroupsRequest',
  flexibleFrom: 3,
  fields: [array('statesFilter', 'string', '4+'), array('typesFilter', 'string', '5+')],
};
