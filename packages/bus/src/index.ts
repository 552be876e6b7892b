/**
 * `@herald/bus`: typed contracts, CloudEvents envelopes, the bus, the Transport contract and the
 * in-memory transport. See the README for a runnable example.
 */
export {
  type Bus,
  type BusOptions,
  createBus,
  type Handler,
  type HandlerOptions,
  type RequestOptions,
  type StopOptions,
  type SubscribeHandlerOptions,
} from './bus.ts';
export type { HandlerContext, MessageContext, Middleware, PublishOptions } from './context.ts';
export {
  type CommandContract,
  type CommandOptions,
  type Contract,
  type ContractBase,
  defineCommand,
  defineEvent,
  defineQuery,
  type EventContract,
  type EventOptions,
  type InputOf,
  type PayloadOf,
  type QueryContract,
  type QueryOptions,
  type ResultOf,
  type Upcaster,
} from './contracts.ts';
export { DEAD_LETTER_HEADERS, type DeadLetterReason, defaultDeadLetterTopic } from './dead-letter.ts';
export type { UnknownTypeAction } from './dispatcher.ts';
export {
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  messageSizeBytes,
  type TransportMessage,
} from './envelope.ts';
export {
  ClosedError,
  ConfigurationError,
  DecodeError,
  ERROR_CODES,
  HeraldError,
  type HeraldErrorCode,
  isUnrecoverable,
  PayloadTooLargeError,
  RemoteError,
  TimeoutError,
  TransportError,
  UnrecoverableError,
  ValidationError,
  type ValidationIssue,
} from './errors.ts';
export { consoleLogger, type LogFields, type Logger, type LogLevel, silentLogger } from './logger.ts';
export { type MemoryTransportOptions, memoryTransport } from './memory-transport.ts';
export { logging } from './middleware/logging.ts';
export { validation } from './middleware/validation.ts';
export { assertTopicName, TOPIC_NAME_LENGTH_MAX } from './names.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs, retryPolicy } from './retry-policy.ts';
export { type Infer, type InferInput, isStandardSchema, type StandardSchemaV1, validate } from './schema.ts';
export {
  IN_FLIGHT_MAX,
  type MessageHandler,
  type ReceivedMessage,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportFeatures,
} from './transport.ts';
export { uuidv7 } from './uuid.ts';
