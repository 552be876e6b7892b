/**
 * Every stable error code of Herald, one list per package that throws it. A code never changes
 * meaning once released: match on these, never on messages. README.md describes each one.
 */

/** Codes of `@herald/bus` and of every transport built on it (broker, RabbitMQ, Kafka, PostgreSQL). */
export const BUS_ERROR_CODES = [
  'HERALD_VALIDATION',
  'HERALD_CONFIGURATION',
  'HERALD_CLOSED',
  'HERALD_PAYLOAD_TOO_LARGE',
  'HERALD_DECODE',
  'HERALD_TIMEOUT',
  'HERALD_UNRECOVERABLE',
  'HERALD_NO_HANDLER',
  'HERALD_TRANSPORT',
  'HERALD_REMOTE',
  'HERALD_SCHEDULE',
  'HERALD_SAGA_CONFLICT',
  'HERALD_WRONG_EXPECTED_VERSION',
] as const;

/** Codes of `@herald/log`, the storage engine. */
export const LOG_ERROR_CODES = [
  'LOG_LOCKED',
  'LOG_NOT_WRITABLE',
  'LOG_CORRUPT',
  'LOG_READ_ONLY',
  'LOG_IO',
  'LOG_RECORD_TOO_LARGE',
  'LOG_BATCH_TOO_LARGE',
  'LOG_OFFSET_OUT_OF_RANGE',
  'LOG_CLOSED',
  'LOG_INVALID_BATCH',
  'LOG_DISK_FULL',
  'LOG_QUEUE_FULL',
  'LOG_INVALID_ARGUMENT',
  'LOG_UNSUPPORTED_COMPRESSION',
] as const;

/** Codes of `@herald/kafka-protocol`, the Kafka wire codecs. */
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

/** Codes of `@herald/cli`, one per documented exit code of the `herald` command. */
export const CLI_ERROR_CODES = [
  /** Exit code 1: a runtime failure (I/O, a broker error, a bad record). */
  'CLI_FAILURE',
  /** Exit code 2: bad usage (unknown option, missing argument, malformed value). */
  'CLI_USAGE',
  /** Exit code 3: the topic, group, dead letter or data directory does not exist. */
  'CLI_NOT_FOUND',
  /** Exit code 4: a conflict (the topic exists, the data directory is locked, the group is live). */
  'CLI_CONFLICT',
  /** Exit code 5: the broker cannot be reached or lacks what the command needs. */
  'CLI_UNAVAILABLE',
  /** Exit code 130: interrupted (Ctrl-C) before the command finished. */
  'CLI_INTERRUPTED',
] as const;

/** Every code, in the order of the lists above. */
export const ERROR_CODES = [
  ...BUS_ERROR_CODES,
  ...LOG_ERROR_CODES,
  ...KAFKA_PROTOCOL_ERROR_CODES,
  ...CLI_ERROR_CODES,
] as const;

/** One of {@link ERROR_CODES}. */
export type HeraldErrorCode = (typeof ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

/** True when `value` is one of {@link ERROR_CODES}. */
export function isErrorCode(value: unknown): value is HeraldErrorCode {
  return typeof value === 'string' && KNOWN.has(value);
}
