/**
 * InitProducerId Response (Version: 0-1) => throttle_time_ms error_code producer_id producer_epoch
 */
import { field, type MessageSchema } from '../../schema.ts';

/** InitProducerId response body. */
export interface InitProducerIdResponse {
  readonly throttleTimeMs: number;
  readonly errorCode: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
}

export const initProducerIdResponse: MessageSchema = {
  name: 'InitProducerIdResponse',
  flexibleFrom: 2,
  fields: [
    field('throttleTimeMs', 'int32', '0+'),
    field('errorCode', 'int16', '0+'),
    field('producerId', 'int64', '0+', { default: -1n }),
    field('producerEpoch', 'int16', '0+'),
  ],
};
