/**
 * OffsetFetch Request (Version: 1) => group_id [topics]
 *   topics => name [partition_indexes]
 * OffsetFetch Request (Version: 2-5) => group_id [topics]   (nullable: null asks for every committed topic)
 * OffsetFetch Request (Version: 6) => the same, flexible
 * OffsetFetch Request (Version: 7) => group_id [topics] require_stable
 * (v8+ batches groups: not served.)
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** OffsetFetch request body. */
export interface OffsetFetchRequest {
  readonly groupId: string;
  readonly topics: readonly { readonly name: string; readonly partitionIndexes: readonly number[] }[] | null;
  /** v7+: wait for pending transactional offsets (none here: there are no transactions). */
  readonly requireStable?: boolean;
}

export const offsetFetchRequest: MessageSchema = {
  name: 'OffsetFetchRequest',
  flexibleFrom: 6,
  fields: [
    field('groupId', 'string', '0-7'),
    array('topics', [field('name', 'string', '0-7'), array('partitionIndexes', 'int32', '0-7')], '0-7', {
      nullable: '2-7',
    }),
    field('requireStable', 'bool', '7+', { default: false }),
  ],
};
