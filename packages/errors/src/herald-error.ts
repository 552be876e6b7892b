/**
 * The base class of every error Herald throws on purpose. Programmer errors (a broken invariant,
 * a misused API inside Herald) stay plain `Error`s: they mean a bug, not a condition to handle.
 */
import type { HeraldErrorCode } from './codes.ts';

/** Options shared by every Herald error. */
export interface HeraldErrorOptions {
  /** Whether retrying the same operation later may succeed. Default false. */
  readonly retriable?: boolean;
  /** The underlying error, if any (for example the `fs` error with its `code`). */
  readonly cause?: unknown;
}

/** Base class of every error Herald throws on purpose. */
export class HeraldError extends Error {
  /** Stable machine-readable code. */
  readonly code: HeraldErrorCode;
  /** Whether retrying the same operation later may succeed. */
  readonly retriable: boolean;

  constructor(code: HeraldErrorCode, message: string, options: HeraldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Whether `error` is a {@link HeraldError}, optionally with the given code. */
export function isHeraldError(error: unknown, code?: HeraldErrorCode): error is HeraldError {
  return error instanceof HeraldError && (code === undefined || error.code === code);
}
