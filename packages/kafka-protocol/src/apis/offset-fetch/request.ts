/**
 * OffsetFetch Request (Version: 1) => group_id [topics]
 *   topics => name [partition_indexes]
 * OffsetFetch Request (Version: 2-5) => group_id [topics]   (nullable: null asks for every committed topic)
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** OffsetFetch request body. */
export interface OffsetFetchRequest {
  readonly groupId: string;
  readonly topics: readonly { readonly name: string; readonly partitionIndexes: readonly number[] }[] | null;
}

export const offsetFetchRequest: MessageSchema = {
  name: 'OffsetFetchRequest',
  flexibleFrom: 6,
  fields: [
    field('groupId', 'string', '0-7'),
    array('topics', [field('name', 'string', '0-7'), array('partitionIndexes', 'int32', '0-7')], '0-7', {
      nullable: '2-7',
    }),
  ],
};
