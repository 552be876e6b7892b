/**
 * Typed errors of the log engine. Every failure a caller can act on is a {@link LogError} (a
 * `HeraldError` from `@herald/errors`) with a stable `LOG_*` `code`, a `retriable` flag and a
 * message that says what went wrong and what to do.
 * Programmer errors (a broken invariant, a wrong argument type) are plain assertion failures instead:
 * they mean a bug, not a condition to handle.
 */

import { HeraldError, LOG_ERROR_CODES } from '@herald/errors';

export { LOG_ERROR_CODES };

/** One of {@link LOG_ERROR_CODES}. */
export type LogErrorCode = (typeof LOG_ERROR_CODES)[number];

/** Options of {@link LogError}. */
export interface LogErrorOptions {
  /** Whether retrying the same operation later, on the same instance, may succeed. Default false. */
  readonly retriable?: boolean;
  /** The underlying error, if any (for example the `fs` error with its `code`). */
  readonly cause?: unknown;
}

/** The error type of every failure the log engine reports on purpose: a `HeraldError` with a `LOG_*` code. */
export class LogError extends HeraldError {
  /** Stable machine-readable code, one of {@link LOG_ERROR_CODES}. */
  declare readonly code: LogErrorCode;

  constructor(code: LogErrorCode, message: string, options: LogErrorOptions = {}) {
    super(code, message, options);
  }
}

/** `LOG_LOCKED`: another open (in this or another process) holds the directory's lock. */
export class LogLockedError extends LogError {
  /** The locked directory. */
  readonly directory: string;
  /** The pid of the process holding the lock, when known. */
  readonly pid: number | undefined;

  constructor(directory: string, pid: number | undefined, message: string) {
    super('LOG_LOCKED', message);
    this.directory = directory;
    this.pid = pid;
  }
}

/** Whether `error` is a {@link LogError}, optionally with the given code. */
export function isLogError(error: unknown, code?: LogErrorCode): error is LogError {
  return error instanceof LogError && (code === undefined || error.code === code);
}

/** The `code` of a Node system error (`ENOSPC`, `EACCES`, ...), or undefined. */
export function systemErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Wraps a file-system failure into a {@link LogError}: a full disk becomes `LOG_DISK_FULL`, a
 * permission problem `LOG_NOT_WRITABLE`, anything else `LOG_IO`. `what` says what was being done
 * ("cannot append to /data/p0/00000000000000000000.log").
 */
export function ioError(what: string, cause: unknown): LogError {
  const code = systemErrorCode(cause);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new LogError(
      'LOG_DISK_FULL',
      `${what}: the disk is full (${code}); free space, then reopen the log`,
      {
        cause,
      },
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new LogError(
      'LOG_NOT_WRITABLE',
      `${what}: permission denied (${code}); make the directory writable by this user or choose another directory`,
      { cause },
    );
  }
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new LogError(
    'LOG_IO',
    `${what}: ${detail}; check the disk and the kernel log, then reopen the log`,
    {
      cause,
    },
  );
}

/**
 * Asserts a programmer invariant. Stays on in production: a broken invariant in a storage engine
 * must stop the write rather than persist a wrong state.
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new Error(`@herald/log invariant violated: ${message}`);
  }
}
