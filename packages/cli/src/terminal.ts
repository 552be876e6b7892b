/**
 * Output conventions in one place: data goes to stdout, progress and logs to stderr; JSON only
 * when asked for (`-J`/`--json`), so stdout carries the same text on a terminal and on a pipe,
 * as kcat's does; colours only on a terminal, never with `NO_COLOR` or `--no-color`.
 */
import type { CommandIo } from './cli.ts';
import type { OptionValues } from './options.ts';

/** How a command prints, decided once from the options, the environment and the streams. */
export interface Output {
  readonly io: CommandIo;
  /** Print JSON (`-J`/`--json`). */
  readonly json: boolean;
  /** Use ANSI colours on stdout. */
  readonly color: boolean;
  /** Draw progress bars on stderr (stderr is a terminal). */
  readonly progress: boolean;
  /** Width of the terminal, for progress bars. */
  readonly columns: number;
  /** Writes a line of data to stdout. */
  line(text: string): void;
  /** Writes one JSON value as a line to stdout (bigints as JSON numbers, see {@link toJson}). */
  jsonLine(value: unknown): void;
  /** Writes a log line to stderr (never data). */
  log(text: string): void;
}

/** Builds the {@link Output} of a command. */
export function outputFor(values: OptionValues, io: CommandIo): Output {
  const env = io.env ?? process.env;
  const stdoutIsTty = io.stdoutIsTty ?? false;
  // --no-color beats --color beats NO_COLOR (https://no-color.org: any non-empty value) beats the TTY check.
  const color =
    values['no-color'] === true
      ? false
      : values.color === true || ((env.NO_COLOR === undefined || env.NO_COLOR === '') && stdoutIsTty);
  return {
    io,
    json: values.json === true,
    color,
    progress: io.stderrIsTty ?? false,
    columns: io.columns ?? 80,
    line: (text) => io.stdout(`${text}\n`),
    jsonLine: (value) => io.stdout(`${toJson(value)}\n`),
    log: (text) => io.stderr(`${text}\n`),
  };
}

/** `JSON.rawJSON` (Node 21+, not yet in TypeScript's lib): a value serialized as the given text. */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/**
 * JSON with bigints (Kafka offsets, lags, counts) as JSON numbers. Offsets fit in 2^53 in
 * practice (a partition would need 9 quadrillion records), so readers that parse numbers as
 * doubles are exact; a bigint beyond `Number.MAX_SAFE_INTEGER` is still written digit for digit
 * through `JSON.rawJSON`, so the text never loses precision (a reader that needs it can parse it
 * as a bigint).
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_, item) => (typeof item === 'bigint' ? rawJson(item.toString()) : item),
    indent,
  );
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;

/** A colour name of {@link paint}. */
export type Colour = keyof typeof CODES;

/** Wraps `text` in the ANSI codes of `colour` when `enabled`. */
export function paint(enabled: boolean, colour: Colour, text: string): string {
  if (!enabled) return text;
  const [open, close] = CODES[colour];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

/** Left-aligned columns with a header row; the header is bold when colours are on. */
export function table(
  rows: readonly (readonly string[])[],
  header: readonly string[],
  color: boolean,
): string {
  const widths = header.map((name, column) =>
    Math.max(name.length, ...rows.map((row) => visibleLength(row[column] ?? ''))),
  );
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell + ' '.repeat(widths[column]! - visibleLength(cell)),
      )
      .join('  ');
  return [paint(color, 'bold', render(header)), ...rows.map(render)].join('\n');
}

function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `93_000` → `1m33s`: how long ago or how far behind, for people. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}
