/**
 * Typed errors of the log engine. Every failure a caller can act on is a {@link LogError} with a
 * stable `code`, a `retriable` flag and a message that says what went wrong and what to do.
 * Programmer errors (a broken invariant, a wrong argument type) are plain assertion failures instead:
 * they mean a bug, not a condition to handle.
 */

/** Stable error codes. Match on these, never on messages. */
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

/** One of {@link LOG_ERROR_CODES}. */
export type LogErrorCode = (typeof LOG_ERROR_CODES)[number];

/** Options of {@link LogError}. */
export interface LogErrorOptions {
  /** Whether retrying the same operation later, on the same instance, may succeed. Default false. */
  readonly retriable?: boolean;
  /** The underlying error, if any (for example the `fs` error with its `code`). */
  readonly cause?: unknown;
}

/** The error type of every failure the log engine reports on purpose. */
export class LogError extends Error {
  /** Stable machine-readable code. */
  readonly code: LogErrorCode;
  /** Whether retrying the same operation later, on the same instance, may succeed. */
  readonly retriable: boolean;

  constructor(code: LogErrorCode, message: string, options: LogErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LogError';
    this.code = code;
    this.retriable = options.retriable ?? false;
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
