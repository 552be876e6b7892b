/**
 * Turns `pg` failures into Herald errors: {@link ConfigurationError} when only a change of set-up
 * helps (wrong database, password, permissions), a retriable {@link TransportError} when trying
 * again later may succeed (server down, serialization failure, deadlock, timeout). Each message
 * says what to do.
 */
import { ConfigurationError, HeraldError, TransportError } from '@herald/bus';

/** SQLSTATE of a serialization failure (repeatable read, serializable). */
export const SERIALIZATION_FAILURE = '40001';
/** SQLSTATE of a detected deadlock. */
export const DEADLOCK_DETECTED = '40P01';

/** SQLSTATEs after which the same transaction may succeed when run again. */
const RETRIABLE_STATES = new Set([
  SERIALIZATION_FAILURE,
  DEADLOCK_DETECTED,
  '55P03', // lock_not_available
  '57014', // query_canceled: statement_timeout
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout
]);

/** Network error codes of Node that mean the server could not be reached or dropped us. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The SQLSTATE or Node error code of `error`, looking into an `AggregateError` (dual-stack connect). */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const inner = (error as { errors?: unknown }).errors;
  return Array.isArray(inner) ? errorCode(inner[0]) : undefined;
}

/** True for errors after which running the same transaction again may succeed. */
export function isRetriable(error: unknown): boolean {
  if (error instanceof HeraldError) return error.retriable;
  const code = errorCode(error);
  if (code === undefined) return /Connection terminated|timeout exceeded/i.test(String(error));
  return RETRIABLE_STATES.has(code) || NETWORK_CODES.has(code) || code.startsWith('08');
}

/**
 * Wraps `error`, raised while `action` (e.g. `recording a message in "herald_inbox"`) talked to
 * the server at `server` (`host:port`), in the Herald error that says what to do.
 * Herald errors pass through unchanged.
 */
export function translateError(error: unknown, action: string, server: string): HeraldError {
  if (error instanceof HeraldError) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  const options = { cause: error };
  if (code === 'ECONNREFUSED') {
    return new TransportError(
      `${action}: connection refused; is PostgreSQL running at ${server}? ` +
        '(start it, or fix the connection string)',
      { ...options, retriable: true },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransportError(
      `${action}: cannot resolve the host of ${server}; check the host name in the connection string`,
      { ...options, retriable: code === 'EAI_AGAIN' },
    );
  }
  if (code === '3D000') {
    return new ConfigurationError(
      `${action}: ${detail} on ${server}; create it (createdb) or fix the database in the connection string`,
      options,
    );
  }
  if (code === '28P01' || code === '28000') {
    return new ConfigurationError(
      `${action}: ${detail} on ${server}; check the user and password in the connection string`,
      options,
    );
  }
  if (code === '3F000') {
    return new ConfigurationError(
      `${action}: ${detail} on ${server}; create the schema first (create schema ...) or use another table name`,
      options,
    );
  }
  if (code === '42501') {
    return new ConfigurationError(
      `${action}: ${detail} on ${server}; grant the user the privilege, or create the table yourself ` +
        'with inboxSchemaSql() and grant select, insert and delete on it',
      options,
    );
  }
  if (code === SERIALIZATION_FAILURE || code === DEADLOCK_DETECTED) {
    const what = code === DEADLOCK_DETECTED ? 'deadlock detected' : 'serialization failure';
    return new TransportError(
      `${action}: ${what} (${detail}); the transaction was rolled back and the message will be retried`,
      { ...options, retriable: true },
    );
  }
  if (code === '57014') {
    return new TransportError(`${action}: ${detail}; raise statementTimeoutMs or make the statement faster`, {
      ...options,
      retriable: true,
    });
  }
  if (code === undefined && /timeout exceeded when trying to connect/i.test(detail)) {
    // pg-pool's own wait: every connection of the pool is busy (or the server does not answer).
    return new TransportError(
      `${action}: no connection to ${server} within connectionTimeoutMs (${detail}); ` +
        "raise poolSizeMax to the handlers' total concurrency + 1, or connectionTimeoutMs",
      { ...options, retriable: true },
    );
  }
  if (isRetriable(error)) {
    return new TransportError(`${action}: lost the connection to ${server} (${detail}); it will be retried`, {
      ...options,
      retriable: true,
    });
  }
  return new TransportError(`${action}: ${detail} (on ${server})`, options);
}
