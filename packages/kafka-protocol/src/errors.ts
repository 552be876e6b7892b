/**
 * The typed error of the protocol codecs. Decoding throws it for any input that is not a valid
 * message (a length past the end of the frame, a negative count, a bad varint), so a server can
 * tell hostile or broken input apart from its own bugs and close the connection or answer with a
 * Kafka error code instead of crashing.
 */

/** Stable codes of {@link KafkaProtocolError}. Match on these, never on messages. */
export const KAFKA_PROTOCOL_ERROR_CODES = [
  /** The bytes do not decode: a length past the end, a negative count, a bad varint. */
  'KAFKA_MALFORMED',
  /** A request uses an API key this server does not implement. */
  'KAFKA_UNKNOWN_API',
  /** A request uses a version of a known API outside the implemented range. */
  'KAFKA_UNSUPPORTED_VERSION',
  /** A request decodes into more elements than the decoder allows (a memory bound). */
  'KAFKA_TOO_MANY_ELEMENTS',
  /** A value cannot be encoded in the requested version (a programming error of the caller). */
  'KAFKA_ENCODE',
] as const;

/** One of {@link KAFKA_PROTOCOL_ERROR_CODES}. */
export type KafkaProtocolErrorCode = (typeof KAFKA_PROTOCOL_ERROR_CODES)[number];

/** Thrown by the codecs; `code` says which kind of failure it is. */
export class KafkaProtocolError extends Error {
  /** Stable code. */
  readonly code: KafkaProtocolErrorCode;

  constructor(code: KafkaProtocolErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'KafkaProtocolError';
    this.code = code;
  }
}

/** True when `error` is a {@link KafkaProtocolError} (optionally with the given code). */
export function isKafkaProtocolError(
  error: unknown,
  code?: KafkaProtocolErrorCode,
): error is KafkaProtocolError {
  return error instanceof KafkaProtocolError && (code === undefined || error.code === code);
}
