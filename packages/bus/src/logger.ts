/**
 * The logger Herald writes to. Its methods take `(fields, message)`, pino's order, so a pino
 * logger and `console` plug in as they are and keep every field. A logger written for the other
 * order (`(message, fields)`) is a type error rather than a logger that silently drops fields.
 */

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Writes one entry: the fields first, then the message — the order of pino's `logger.info(obj,
 * msg)` and of `console.info(...data)`. Herald always passes a fields object (possibly empty).
 */
export type LogMethod = (fields: LogFields, message: string) => void;

/** Levels a {@link Logger} writes at. */
export type LogWriteLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A minimal structured logger. pino's `Logger` and `console` satisfy it as they are:
 * `createBus({ logger: pino() })`, `createBus({ logger: console })`. Herald calls the methods
 * on the logger (`logger.warn(...)`), so pino's methods keep their `this`.
 */
export interface Logger {
  readonly debug: LogMethod;
  readonly info: LogMethod;
  readonly warn: LogMethod;
  readonly error: LogMethod;
  /**
   * Optional (pino's name): false when entries at `level` are dropped. Herald then skips building
   * them on its per-message paths (the debug line per handled message). Without it, Herald assumes
   * every level is written and calls the method, which may drop the entry itself.
   */
  isLevelEnabled?(level: LogWriteLevel): boolean;
}

/** Log levels, most verbose first. */
export type LogLevel = LogWriteLevel | 'silent';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** How {@link consoleLogger} formats an entry. */
export type LogFormat = 'json' | 'pretty';

/** Where {@link consoleLogger} writes: a stream such as `process.stderr`. */
export interface LogDestination {
  write(text: string): unknown;
  /** True for a terminal: the default format is then `pretty`. */
  readonly isTTY?: boolean;
}

/** Options of {@link consoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Lowest level written (default: `HERALD_LOG_LEVEL`, else `warn`). */
  readonly level?: LogLevel;
  /**
   * `json`: one JSON object per line with `time` (ISO 8601), `level`, `message` and the fields;
   * `pretty`: `herald <level>: <message> {fields}` for people. Default: `HERALD_LOG_FORMAT`, else
   * `pretty` when the destination is a terminal and `json` otherwise (files, pipes, containers).
   */
  readonly format?: LogFormat;
  /** Default `process.stderr`. */
  readonly destination?: LogDestination;
}

/** Keys every JSON line starts with; fields with these names are written as `field.<name>`. */
const CORE_KEYS = new Set(['time', 'level', 'message']);

/**
 * A logger that writes one line per entry at or above its level (default `warn`, or the
 * `HERALD_LOG_LEVEL` environment variable) to stderr: JSON lines unless stderr is a terminal.
 * Pass a level, or {@link ConsoleLoggerOptions}.
 */
export function consoleLogger(options: LogLevel | ConsoleLoggerOptions = {}): Logger {
  const settings = typeof options === 'string' ? { level: options } : options;
  const level = settings.level ?? defaultLevel();
  const destination = settings.destination ?? process.stderr;
  const format = settings.format ?? defaultFormat(destination);
  const write = (at: LogWriteLevel, fields: LogFields, message: string) => {
    if (RANK[at] < RANK[level]) return;
    destination.write(format === 'json' ? jsonLine(at, fields, message) : prettyLine(at, fields, message));
  };
  return {
    debug: (fields, message) => write('debug', fields, message),
    info: (fields, message) => write('info', fields, message),
    warn: (fields, message) => write('warn', fields, message),
    error: (fields, message) => write('error', fields, message),
    isLevelEnabled: (at) => RANK[at] >= RANK[level],
  };
}

function defaultLevel(): LogLevel {
  const level = process.env.HERALD_LOG_LEVEL;
  return level !== undefined && level in RANK ? (level as LogLevel) : 'warn';
}

function defaultFormat(destination: LogDestination): LogFormat {
  const format = process.env.HERALD_LOG_FORMAT;
  if (format === 'json' || format === 'pretty') return format;
  return destination.isTTY === true ? 'pretty' : 'json';
}

function jsonLine(level: LogWriteLevel, fields: LogFields, message: string): string {
  const entry: Record<string, unknown> = { time: new Date().toISOString(), level, message };
  for (const [key, value] of Object.entries(fields ?? {})) {
    entry[CORE_KEYS.has(key) ? `field.${key}` : key] = value;
  }
  return `${safeJson(entry, { time: entry.time, level, message, fields: 'unserialisable' })}\n`;
}

function prettyLine(level: LogWriteLevel, fields: LogFields, message: string): string {
  const hasFields = fields !== undefined && Object.keys(fields).length > 0;
  return `herald ${level}: ${message}${hasFields ? ` ${safeJson(fields)}` : ''}\n`;
}

/** JSON that survives bigints, errors and cycles (a log line must never throw). */
function safeJson(value: unknown, fallback: unknown = { fields: 'unserialisable' }): string {
  try {
    return JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item === 'bigint') return String(item);
      if (item instanceof Error) return { name: item.name, message: item.message };
      return item;
    });
  } catch {
    return JSON.stringify(fallback);
  }
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  isLevelEnabled: () => false,
};
