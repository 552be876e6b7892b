/**
 * Option parsing shared by every command: `node:util` parseArgs in strict mode plus the options
 * every data command takes (target, output). kcat users write `-o -5`; parseArgs would read the
 * `-5` as an option, so a value that looks like a negative number is glued to its option first.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

/** One option as parseArgs declares it. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
}

/** Options of every command that talks to a target and prints data. */
export const COMMON_OPTIONS = {
  data: { type: 'string' },
  broker: { type: 'string', short: 'b' },
  json: { type: 'boolean', short: 'J' },
  pretty: { type: 'boolean' },
  config: { type: 'string', short: 'X', multiple: true },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
} as const satisfies Record<string, OptionSpec>;

/** The help text of the target options and `-X`. */
export const TARGET_USAGE = `Target (one of):
  --data DIR             open a data directory directly (default $HERALD_DATA_DIR or ./.herald);
                         refused while a server or application holds its lock
  -b, --broker HOST:PORT talk Kafka protocol to herald serve or any Kafka broker
                         (default $HERALD_BROKER)
  -X NAME=VALUE          client property in kcat's (librdkafka's) names, validated; -X list shows
                         the supported ones (fetch.wait.max.ms, client.id, socket.timeout.ms, …)
`;

/** The help text of the colour options and `--help`. */
export const COLOR_USAGE = `  --no-color, --color    colours off or on (default: on for a terminal unless NO_COLOR is set)
  -h, --help             this help
  -V, --version          print the version
`;

/** The help text of {@link COMMON_OPTIONS}, appended to every command's usage but consume's and tail's. */
export const COMMON_USAGE = `${TARGET_USAGE}Output (the same on a terminal and on a pipe, as with kcat):
  -J, --json             JSON on stdout (offsets and counts are JSON numbers)
  --pretty               the human layout (the default; kept for scripts that ask for it)
${COLOR_USAGE}`;

/** Parsed options: strings, booleans, or string lists for `multiple` options. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** Parses `args` against `spec` (plus {@link COMMON_OPTIONS}); unknown options are a UsageError. */
export function parseOptions(
  args: readonly string[],
  spec: Readonly<Record<string, OptionSpec>>,
  positionalsMax = 0,
): { values: OptionValues; positionals: string[] } {
  const options = { ...COMMON_OPTIONS, ...spec };
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: glueNegativeValues(args, options),
      options: options as Record<string, OptionSpec>,
      strict: true,
      allowPositionals: true,
    }) as { values: OptionValues; positionals: string[] };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length > positionalsMax) {
    throw new UsageError(`unexpected argument "${parsed.positionals[positionalsMax]}"`);
  }
  return parsed;
}

/** `-o -5` becomes `--o=-5`-style `-o-5`, so parseArgs reads the negative number as the value. */
function glueNegativeValues(
  args: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
): string[] {
  const takesValue = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (option.short !== undefined) takesValue.add(`-${option.short}`);
  }
  const output: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    const next = args[index + 1];
    if (takesValue.has(arg) && next !== undefined && /^-\d/.test(next)) {
      output.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      index += 1;
    } else output.push(arg);
  }
  return output;
}

/** The string value of `name`, or undefined. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** The string value of `name`; a UsageError naming `flag` when it is missing. */
export function requiredOption(values: OptionValues, name: string, flag: string): string {
  const value = stringOption(values, name);
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

/** Every value of a `multiple` option. */
export function listOption(values: OptionValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : [];
}

/** A whole number from `min` to `max`, or undefined when the option is absent. */
export function integerOption(
  values: OptionValues,
  name: string,
  flag: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const parsed = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return parsed;
}

/** Splits `--subcommand` style commands: the first positional picks a subcommand. */
export function subcommandOf(args: readonly string[], known: readonly string[], command: string): string {
  const first = args[0];
  if (first === undefined || first.startsWith('-')) {
    throw new UsageError(`${command} needs a subcommand: ${known.join(', ')}`);
  }
  if (!known.includes(first)) {
    throw new UsageError(`unknown subcommand "${first}" of ${command}; use one of ${known.join(', ')}`);
  }
  return first;
}
