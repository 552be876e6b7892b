/**
 * `@herald/postgres`: Herald's PostgreSQL idempotency store and transactional inbox. See
 * README.md for the exactly-once argument, a runnable example, the schema and the bounds.
 */
export { DEADLOCK_DETECTED, isRetriable, SERIALIZATION_FAILURE } from './errors.ts';
export {
  DEFAULT_RETENTION_MS,
  type IsolationLevel,
  type PostgresInboxOptions,
  RETENTION_MS_MAX,
} from './inbox-options.ts';
export { type PostgresInbox, PRUNE_BATCHES_MAX, postgresInbox } from './postgres-inbox.ts';
export {
  DEFAULT_OUTBOX_TABLE,
  outboxSchemaSql,
  type PostgresOutbox,
  type PostgresOutboxOptions,
  postgresOutbox,
} from './postgres-outbox.ts';
export {
  DEFAULT_SAGA_TABLE,
  type PostgresSagaStoreOptions,
  postgresSagaStore,
  sagaSchemaSql,
} from './postgres-saga-store.ts';
export {
  DEFAULT_INBOX_TABLE,
  INBOX_SCHEMA_SQL,
  inboxSchemaSql,
  TABLE_NAME_PART_LENGTH_MAX,
} from './schema.ts';
