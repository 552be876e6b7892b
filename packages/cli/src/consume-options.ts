/**
 * The one option parser of `consume` and `tail`, which read a topic the same way and differ only
 * in where they start and what they print by default: `consume` starts where `-o` (or `-g`'s
 * committed offsets) says and prints kcat's layout; `tail` starts `-n` messages before the end of
 * each partition and pretty-prints on a terminal. Both hand the result to `runConsume`.
 */
import type { CommandIo } from './cli.ts';
import { parseClientConfig } from './client-config.ts';
import { type ConsumeSettings, LAYOUT_OPTIONS, layoutOf, parsePartitions } from './consume-run.ts';
import {
  integerOption,
  listOption,
  type OptionValues,
  parseOptions,
  requiredOption,
  stringOption,
} from './options.ts';
import { type OffsetOptions, parseOffsetOptions } from './positions.ts';
import { type Output, outputFor } from './terminal.ts';

/** Options both commands take: the topic, partitions, `-e`, `-q` and the layout. */
const READ_OPTIONS = {
  ...LAYOUT_OPTIONS,
  topic: { type: 'string', short: 't' },
  partition: { type: 'string', short: 'p' },
  exit: { type: 'boolean', short: 'e' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

/** The options of each command: the shared ones and its own. */
export const READ_COMMAND_OPTIONS = {
  consume: {
    ...READ_OPTIONS,
    group: { type: 'string', short: 'g' },
    offset: { type: 'string', short: 'o', multiple: true },
    count: { type: 'string', short: 'c' },
  },
  tail: { ...READ_OPTIONS, lines: { type: 'string', short: 'n' } },
} as const;

/** A command that reads a topic. */
export type ReadCommand = keyof typeof READ_COMMAND_OPTIONS;

/** What {@link parseReadCommand} resolves: the parsed options, the reading settings, the output. */
export interface ParsedReadCommand {
  readonly values: OptionValues;
  readonly settings: ConsumeSettings;
  readonly output: Output;
}

/** How many messages before the end of each partition `tail` starts without `-n`. */
export const TAIL_LINES_DEFAULT = 10;

/**
 * Parses the arguments of `consume` or `tail` into the settings `runConsume` reads with. Throws
 * a `UsageError` (exit code 2) for an unknown option, a missing `-t`, or a malformed value.
 */
export function parseReadCommand(
  command: ReadCommand,
  args: readonly string[],
  io: CommandIo,
): ParsedReadCommand {
  const { values } = parseOptions(args, READ_COMMAND_OPTIONS[command]);
  const output = outputFor(values, io);
  const consume = command === 'consume';
  const offsets: OffsetOptions = consume
    ? parseOffsetOptions(listOption(values, 'offset'), '-o')
    : {
        start: {
          kind: 'fromEnd',
          count: BigInt(integerOption(values, 'lines', '-n', 0) ?? TAIL_LINES_DEFAULT),
        },
        endTimestampMs: undefined,
      };
  const settings: ConsumeSettings = {
    topic: requiredOption(values, 'topic', '-t TOPIC'),
    group: consume ? stringOption(values, 'group') : undefined,
    start: offsets.start,
    endTimestampMs: offsets.endTimestampMs,
    partitions: parsePartitions(stringOption(values, 'partition')),
    follow: values.exit !== true,
    countMax: consume ? integerOption(values, 'count', '-c', 1) : undefined,
    fetchWaitMs: parseClientConfig(listOption(values, 'config')).fetchWaitMs,
    // tail: the human view on a terminal; on a pipe what consume prints, so `tail | grep` sees values.
    layout: layoutOf(values, !consume && io.stdoutIsTty === true ? 'pretty' : 'raw'),
    quiet: values.quiet === true,
  };
  return { values, settings, output };
}
