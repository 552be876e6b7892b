/**
 * Exit codes and the errors that carry them. Every failure the CLI reports on purpose is a
 * {@link CliError} (a `HeraldError` with a `CLI_*` code) whose `exitCode` is one of {@link EXIT},
 * so scripts can branch on the code instead of parsing messages.
 */
import { type CLI_ERROR_CODES, HeraldError } from '@herald/errors';

/** The documented exit codes of `herald` (README "Exit codes"). */
export const EXIT = {
  /** Done. Also a consumer stopped with Ctrl-C after committing. */
  ok: 0,
  /** A runtime failure: I/O, a broker error, a bad record. */
  failure: 1,
  /** Bad usage: unknown option, missing argument, malformed value. */
  usage: 2,
  /** The topic, group, dead letter or data directory does not exist. */
  notFound: 3,
  /** A conflict: the topic exists, the data directory is locked, the group has live members. */
  conflict: 4,
  /** The broker cannot be reached, or does not implement what the command needs. */
  unavailable: 5,
  /** Interrupted (Ctrl-C) before a produce, replay or redrive finished; what was sent stays sent. */
  interrupted: 130,
} as const;

/** One of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One of `CLI_ERROR_CODES` from `@herald/errors`. */
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

/** The stable code of each exit code (exit code 0 is not an error; it maps to `CLI_FAILURE`). */
const CODE_BY_EXIT: Readonly<Record<ExitCode, CliErrorCode>> = {
  [EXIT.ok]: 'CLI_FAILURE',
  [EXIT.failure]: 'CLI_FAILURE',
  [EXIT.usage]: 'CLI_USAGE',
  [EXIT.notFound]: 'CLI_NOT_FOUND',
  [EXIT.conflict]: 'CLI_CONFLICT',
  [EXIT.unavailable]: 'CLI_UNAVAILABLE',
  [EXIT.interrupted]: 'CLI_INTERRUPTED',
};

/**
 * A failure with a message for the user (what went wrong and what to do) and an exit code. Its
 * `code` follows the exit code (`CLI_NOT_FOUND` for 3, ...); only `CLI_UNAVAILABLE` is retriable.
 */
export class CliError extends HeraldError {
  /** Stable code derived from {@link CliError.exitCode}. */
  declare readonly code: CliErrorCode;
  /** The process exit code, one of {@link EXIT}. */
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = EXIT.failure, options: { cause?: unknown } = {}) {
    super(CODE_BY_EXIT[exitCode], message, { ...options, retriable: exitCode === EXIT.unavailable });
    this.exitCode = exitCode;
  }
}

/** Bad usage (`CLI_USAGE`): printed with a pointer to `--help`, exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The exit code of any error: a {@link CliError}'s own, else 1. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof CliError ? error.exitCode : EXIT.failure;
}
