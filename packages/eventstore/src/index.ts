/**
 * `@herald/eventstore`: event sourcing on Herald. Streams with optimistic concurrency, reads of a
 * stream or of everything, category subscriptions with checkpoints, deciders, and exactly-once
 * projections into SQLite or PostgreSQL; on the embedded log or on PostgreSQL. See README.md.
 */

export { memoryCheckpoints } from './checkpoints.ts';
export { assertStreamName, inCategory, isEvent, STREAM_NAME_LENGTH_MAX } from './codec.ts';
export {
  aggregateState,
  COMMAND_ATTEMPTS_DEFAULT,
  type Decider,
  decider,
  handleCommand,
} from './decider.ts';
export { type EmbeddedEventStoreOptions, openEmbeddedEventStore } from './embedded-store.ts';
export { WrongExpectedVersionError } from './errors.ts';
export { event } from './event.ts';
export {
  DEFAULT_EVENTS_TABLE,
  eventStoreSchemaSql,
  openPostgresEventStore,
  type PostgresEventStoreOptions,
} from './postgres-store.ts';
export {
  catchUpProjection,
  type Projection,
  type ProjectionMetrics,
  type ProjectionRunner,
  type ProjectionTarget,
  type RunProjectionOptions,
  rebuildProjection,
  runProjection,
} from './projection.ts';
export {
  PROJECTION_CHECKPOINT_TABLE,
  postgresProjectionTarget,
  type SqliteProjectionTargetOptions,
  sqliteProjectionTarget,
} from './projection-targets.ts';
export {
  openSqliteEventStore,
  type SqliteEventStore,
  type SqliteEventStoreOptions,
  type StreamsInTransaction,
  sqliteEventStoreSchemaSql,
  sqliteStreams,
} from './sqlite-store.ts';
export { SUBSCRIPTION_PAGE_COUNT_DEFAULT, SUBSCRIPTION_WAIT_MS_MAX } from './subscription.ts';
export {
  APPEND_COUNT_MAX,
  type AppendOptions,
  type AppendResult,
  type CheckpointStore,
  type EventStore,
  type EventToAppend,
  type ExpectedVersion,
  READ_COUNT_MAX,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from './types.ts';
