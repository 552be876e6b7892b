/**
 * InitProducerId Request (Version: 0-1) => transactional_id transaction_timeout_ms
 * (v1 only changes semantics. This server hands out producer ids for idempotent producers and
 * refuses transactional ids: transactions are not implemented.)
 */
import { field, type MessageSchema } from '../../schema.ts';

/** InitProducerId request body. */
export interface InitProducerIdRequest {
  readonly transactionalId: string | null;
  readonly transactionTimeoutMs: number;
  /** v3+: the producer's current id and epoch when it asks for an epoch bump (KIP-360, transactional producers), else -1. */
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
}

export const initProducerIdRequest: MessageSchema = {
  name: 'InitProducerIdRequest',
  flexibleFrom: 2,
  fields: [
    field('transactionalId', 'string', '0+', { nullable: '0+' }),
    field('transactionTimeoutMs', 'int32', '0+'),
    field('producerId', 'int64', '3+', { default: -1n }),
    field('producerEpoch', 'int16', '3+', { default: -1 }),
  ],
};
