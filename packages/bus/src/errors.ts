/**
 * The bus's typed errors. Every error a caller can act on is a `HeraldError` (from
 * `@herald/errors`, re-exported here) with a stable `code`, a `retriable` flag, and a message that
 * says what went wrong and what to do about it.
 */

import { HeraldError, type HeraldErrorOptions } from '@herald/errors';

export {
  ERROR_CODES,
  HeraldError,
  type HeraldErrorCode,
  type HeraldErrorOptions,
  isHeraldError,
} from '@herald/errors';

/** One failing location in a validated value. */
export interface ValidationIssue {
  /** Dotted path to the failing value (`items.0.sku`); empty for the root. */
  readonly path: string;
  /** What the schema said about it. */
  readonly message: string;
}

/** A payload did not match its contract's schema. Never retriable: the same data fails again. */
export class ValidationError extends HeraldError {
  /** Every failing path with its message. */
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[]) {
    const listed = issues.map((issue) => `  - ${issue.path || '(root)'}: ${issue.message}`).join('\n');
    super('HERALD_VALIDATION', `${what} failed schema validation:\n${listed}`);
    this.issues = issues;
  }
}

/** Herald was set up wrongly; the message says what to change. Thrown at set-up, never at run time. */
export class ConfigurationError extends HeraldError {
  constructor(message: string, options: HeraldErrorOptions = {}) {
    super('HERALD_CONFIGURATION', message, options);
  }
}

/** The bus, transport or subscription was already closed. */
export class ClosedError extends HeraldError {
  constructor(what: string) {
    super('HERALD_CLOSED', `${what} is closed; create a new one (closed instances cannot be reopened)`);
  }
}

/** A message is larger than the transport accepts. */
export class PayloadTooLargeError extends HeraldError {
  /** Encoded size of the rejected message (body + headers + key). */
  readonly sizeBytes: number;
  /** The transport's limit. */
  readonly limitBytes: number;

  constructor(topic: string, sizeBytes: number, limitBytes: number) {
    super(
      'HERALD_PAYLOAD_TOO_LARGE',
      `message for topic "${topic}" is ${sizeBytes} bytes, over the transport limit of ${limitBytes} bytes; ` +
        'store large blobs elsewhere and publish a reference, or raise the transport limit',
    );
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/** A received message could not be decoded into an envelope. It is dead-lettered, never retried. */
export class DecodeError extends HeraldError {
  constructor(message: string, options: HeraldErrorOptions = {}) {
    super('HERALD_DECODE', message, options);
  }
}

/** An operation did not finish within its deadline. */
export class TimeoutError extends HeraldError {
  constructor(message: string) {
    super('HERALD_TIMEOUT', message, { retriable: true });
  }
}

/**
 * Throw this from a handler when retrying cannot help (a business rule rejects the message):
 * the message skips the remaining attempts and is dead-lettered at once.
 */
export class UnrecoverableError extends HeraldError {
  constructor(message: string, options: HeraldErrorOptions = {}) {
    super('HERALD_UNRECOVERABLE', message, options);
  }
}

/** A query's handler failed on the replying side; the message is the remote error's. */
export class RemoteError extends HeraldError {
  /** The remote error's name, e.g. `ValidationError`. */
  readonly remoteName: string;

  constructor(remoteName: string, message: string) {
    super('HERALD_REMOTE', `query handler failed with ${remoteName}: ${message}`);
    this.remoteName = remoteName;
  }
}

/** A transport failed to do what it was asked (connection lost, broker refused). */
export class TransportError extends HeraldError {
  constructor(message: string, options: HeraldErrorOptions = {}) {
    super('HERALD_TRANSPORT', message, options);
  }
}

/** Why a scheduled publish or a cancellation was refused; see {@link ScheduleError}. */
export type ScheduleErrorReason =
  | 'SCHEDULE_INVALID_TIME'
  | 'SCHEDULE_OPTIONS_CONFLICT'
  | 'SCHEDULE_BEYOND_HORIZON'
  | 'SCHEDULE_UNSUPPORTED'
  | 'SCHEDULE_FULL';

/**
 * A scheduled publish (`deliverAt` / `delayMs`) or a cancellation was refused; nothing was
 * scheduled. Only `SCHEDULE_FULL` is retriable.
 */
export class ScheduleError extends HeraldError {
  /** The finer reason, stable like the code. */
  readonly reason: ScheduleErrorReason;

  constructor(reason: ScheduleErrorReason, message: string) {
    super('HERALD_SCHEDULE', message, { retriable: reason === 'SCHEDULE_FULL' });
    this.reason = reason;
  }
}

/**
 * A saga's state changed under a transition (its version moved on, or another transaction created
 * it first): nothing of the transition was committed. Retriable: the bus retries the message
 * through its retry policy, and the retry reads the new state.
 */
export class SagaConflictError extends HeraldError {
  /** The saga's name. */
  readonly saga: string;
  /** The saga instance's id (what its messages correlate to). */
  readonly sagaId: string;

  constructor(saga: string, sagaId: string, expectedVersion: number) {
    super(
      'HERALD_SAGA_CONFLICT',
      `saga "${saga}" ${sagaId}: expected version ${expectedVersion}, but another transaction changed it first; ` +
        'the message is retried with the new state (raise the retry attempts if this keeps happening)',
      { retriable: true },
    );
    this.saga = saga;
    this.sagaId = sagaId;
  }
}

/** True when `error` should skip retries: validation, decode and unrecoverable failures. */
export function isUnrecoverable(error: unknown): boolean {
  return (
    error instanceof HeraldError &&
    (error.code === 'HERALD_VALIDATION' ||
      error.code === 'HERALD_DECODE' ||
      error.code === 'HERALD_UNRECOVERABLE')
  );
}
