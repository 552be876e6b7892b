/**
 * FindCoordinator Request (Version: 0) => key
 * FindCoordinator Request (Version: 1-2) => key key_type   (0 group, 1 transaction)
 * FindCoordinator Request (Version: 3) => the same, flexible
 * FindCoordinator Request (Version: 4-6) => key_type [coordinator_keys]   (KIP-699 batches)
 */
import { array, field, type MessageSchema } from '../../schema.ts';

/** FindCoordinator request body. */
export interface FindCoordinatorRequest {
  readonly key: string;
  readonly keyType: number;
  /** v4+: the keys looked up at once (`key` is absent). */
  readonly coordinatorKeys?: readonly string[];
}

export const findCoordinatorRequest: MessageSchema = {
  name: 'FindCoordinatorRequest',
  flexibleFrom: 3,
  fields: [
    field('key', 'string', '0-3'),
    field('keyType', 'int8', '1+', { default: 0 }),
    array('coordinatorKeys', 'string', '4+'),
  ],
};
