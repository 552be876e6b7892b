/**
 * FindCoordinator Request (Version: 0) => key
 * FindCoordinator Request (Version: 1-2) => key key_type   (0 group, 1 transaction)
 */
import { field, type MessageSchema } from '../../schema.ts';

/** FindCoordinator request body. */
export interface FindCoordinatorRequest {
  readonly key: string;
  readonly keyType: number;
}

export const findCoordinatorRequest: MessageSchema = {
  name: 'FindCoordinatorRequest',
  flexibleFrom: 3,
  fields: [field('key', 'string', '0-3'), field('keyType', 'int8', '1+', { default: 0 })],
};
