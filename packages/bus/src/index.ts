/**
 * `@herald/bus`: typed contracts, CloudEvents envelopes, the bus, the Transport contract and the
 * in-memory transport. See the README for a runnable example.
 */

export {
  ANNOUNCE_CHANGE_DELAY_MS,
  ANNOUNCE_INTERVAL_MS_DEFAULT,
  ANNOUNCE_INTERVAL_MS_MAX,
  ANNOUNCE_INTERVAL_MS_MIN,
  ANNOUNCE_TIMEOUT_MS,
  ANNOUNCED_ITEMS_MAX,
  ANNOUNCEMENT_TYPE,
  ANNOUNCEMENT_VERSION,
  type AnnouncedContract,
  type AnnouncedHandler,
  type AnnounceOptions,
  announcementMessage,
  announcementOf,
  HERALD_VERSION,
  SERVICES_TOPIC,
  SERVICES_TOPIC_RETENTION_MS,
  SERVICES_TOPIC_SEGMENT_MS,
  type ServiceAnnouncement,
  serviceOfSource,
} from './announcements.ts';
export {
  type AsyncApiDocument,
  type AsyncApiOptions,
  type AsyncApiServer,
  type AsyncApiService,
  asyncApiDocument,
} from './asyncapi/document.ts';
export { createBus } from './bus.ts';
export {
  type Bus,
  type BusOptions,
  type BusStats,
  HANDLER_TIMEOUT_MS_MAX,
  type Handler,
  type HandlerOptions,
  type RequestOptions,
  type StopOptions,
  type SubscribeHandlerOptions,
} from './bus-api.ts';
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
export {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_KEY,
  type DeadLetterReason,
  defaultDeadLetterTopic,
  TARGET_GROUP_HEADER,
} from './dead-letter.ts';
export {
  DEAD_LETTERS_READ_MAX,
  type DeadLetter,
  type DeadLetterQuery,
  type DeadLetters,
} from './dead-letters.ts';
export type { UnknownTypeAction } from './dispatcher.ts';
export {
  CE_PREFIX,
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
  type HeraldErrorOptions,
  isHeraldError,
  isUnrecoverable,
  PayloadTooLargeError,
  RemoteError,
  SagaConflictError,
  ScheduleError,
  type ScheduleErrorReason,
  TimeoutError,
  TransportError,
  UnrecoverableError,
  ValidationError,
  type ValidationIssue,
} from './errors.ts';
export {
  type BusHealth,
  type BusState,
  ConnectionHealth,
  FAILING_SOURCES_MAX,
  type HealthError,
  healthError,
  isConnectionFailure,
  type SubscriptionHealth,
  type SubscriptionState,
  type TransportHealth,
} from './health.ts';
export {
  combineHealth,
  HEALTH_PATHS,
  type HealthAnswer,
  type HealthVerdict,
  healthAnswer,
  healthFailureAnswer,
} from './health-endpoint.ts';
export {
  type IdempotencyKey,
  type IdempotencyStore,
  type MemoryIdempotencyStoreOptions,
  memoryIdempotencyStore,
} from './idempotency.ts';
export {
  type ConsoleLoggerOptions,
  consoleLogger,
  type LogDestination,
  type LogFields,
  type LogFormat,
  type Logger,
  type LogLevel,
  type LogMethod,
  type LogWriteLevel,
  silentLogger,
} from './logger.ts';
export { type MemoryTransportOptions, memoryTransport } from './memory-transport.ts';
export type { BusMetrics, HandlerOutcome } from './metrics.ts';
export { logging } from './middleware/logging.ts';
export { validation } from './middleware/validation.ts';
export { assertTopicName, TOPIC_NAME_LENGTH_MAX } from './names.ts';
export {
  type OutboxLag,
  type OutboxPass,
  type OutboxRecord,
  type OutboxStaging,
  type OutboxStore,
  type OutboxTransaction,
  outboxRecord,
  type StagedRecord,
  withStaging,
} from './outbox.ts';
export { type OutboxRelayOptions, RELAY_PASSES_PER_WAKE_MAX } from './outbox-relay.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs, retryPolicy } from './retry-policy.ts';
export {
  defineSaga,
  type SagaCompensation,
  type SagaContext,
  type SagaDefinition,
  type SagaHandler,
  type SagaOptions,
  type SagaOutgoing,
  type SagaStarter,
  type SagaStatus,
  type SagaStep,
  type SagaTransition,
  sagaMessage,
} from './saga/saga.ts';
export { SAGA_TIMEOUT_MS_MAX } from './saga/saga-apply.ts';
export {
  registerSaga,
  SAGA_PRUNE_ROWS_MAX,
  SAGA_QUERY_ROWS_MAX,
  type SagaRuntime,
  type SagaRuntimeOptions,
  type SagaView,
} from './saga/saga-runtime.ts';
export type { SagaStart } from './saga/saga-start.ts';
export type { SagaHistoryEntry, SagaRecord, SagaStore } from './saga/saga-store.ts';
export { SCHEDULE_TOPIC, SCHEDULER_GROUP } from './schedule/topic-scheduler.ts';
export { type Infer, type InferInput, isStandardSchema, type StandardSchemaV1, validate } from './schema.ts';
export { type StopOnSignalsOptions, stopOnSignals } from './stop-on-signals.ts';
export {
  assertTopicPattern,
  isTopicPattern,
  matchesTopicPattern,
  topicPatternRegExp,
} from './topic-pattern.ts';
export {
  type CancelOutcome,
  type CloseOptions,
  IN_FLIGHT_MAX,
  type MessageHandler,
  type ReceivedMessage,
  replaysToNewGroup,
  SCHEDULE_HORIZON_MS_MAX,
  type SchedulingFeature,
  type SubscribeOptions,
  type Subscription,
  type TopicPatternsFeature,
  type Transport,
  type TransportFeatures,
  type TransportScheduler,
} from './transport.ts';
export { uuidv7 } from './uuid.ts';
