/**
 * Exit codes and the errors that carry them. Every failure the CLI reports on purpose is a
 * {@link CliError} whose `exitCode` is one of {@link EXIT}, so scripts can branch on the code
 * instead of parsing messages.
 */

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

/** A failure with a message for the user (what went wrong and what to do) and an exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = EXIT.failure, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad usage: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

/** The exit code of any error: a {@link CliError}'s own, else 1. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof CliError ? error.exitCode : EXIT.failure;
}
