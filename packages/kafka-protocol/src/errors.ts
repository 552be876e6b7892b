/**
 * The typed error of the protocol codecs. Decoding throws it for any input that is not a valid
 * message (a length past the end of the frame, a negative count, a bad varint), so a server can
 * tell hostile or broken input apart from its own bugs and close the connection or answer with a
 * Kafka error code instead of crashing.
 */
import { HeraldError, KAFKA_PROTOCOL_ERROR_CODES } from '@herald/errors';

export { KAFKA_PROTOCOL_ERROR_CODES };

/** One of {@link KAFKA_PROTOCOL_ERROR_CODES}. */
export type KafkaProtocolErrorCode = (typeof KAFKA_PROTOCOL_ERROR_CODES)[number];

/** Thrown by the codecs: a `HeraldError` whose `KAFKA_*` `code` says which kind of failure it is. */
export class KafkaProtocolError extends HeraldError {
  /** Stable code, one of {@link KAFKA_PROTOCOL_ERROR_CODES}. */
  declare readonly code: KafkaProtocolErrorCode;

  constructor(code: KafkaProtocolErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** True when `error` is a {@link KafkaProtocolError} (optionally with the given code). */
export function isKafkaProtocolError(
  error: unknown,
  code?: KafkaProtocolErrorCode,
): error is KafkaProtocolError {
  return error instanceof KafkaProtocolError && (code === undefined || error.code === code);
}
