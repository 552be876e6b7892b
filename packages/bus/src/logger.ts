/** The logger Herald writes to. Plug in pino, winston or console with a tiny adapter. */

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A minimal structured logger. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /**
   * Optional: false when entries at `level` are dropped. Herald then skips building them on its
   * per-message paths (the debug line per handled message). Without it, Herald assumes every
   * level is written and calls the method, which may drop the entry itself.
   */
  enabled?(level: Exclude<LogLevel, 'silent'>): boolean;
}

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/**
 * A logger that writes one line per entry to stderr at or above `level` (default `warn`, or the
 * `HERALD_LOG_LEVEL` environment variable).
 */
export function consoleLogger(level: LogLevel = defaultLevel()): Logger {
  const write = (at: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    const suffix = fields === undefined ? '' : ` ${safeJson(fields)}`;
    process.stderr.write(`herald ${at}: ${message}${suffix}\n`);
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    enabled: (at) => RANK[at] >= RANK[level],
  };
}

function defaultLevel(): LogLevel {
  const level = process.env.HERALD_LOG_LEVEL;
  return level !== undefined && level in RANK ? (level as LogLevel) : 'warn';
}

function safeJson(fields: LogFields): string {
  try {
    return JSON.stringify(fields, (_key, value: unknown) =>
      typeof value === 'bigint' ? String(value) : value,
    );
  } catch {
    return '{"fields":"unserialisable"}';
  }
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  enabled: () => false,
};
