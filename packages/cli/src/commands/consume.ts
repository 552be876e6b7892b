/** `herald consume`: kcat -C for Herald: offsets, groups, formats, JSON, CloudEvents. */
import type { Command, CommandIo } from '../cli.ts';
import { parsePartitions, runConsume } from '../consume-run.ts';
import { EXIT } from '../errors.ts';
import { COMMON_USAGE, integerOption, parseOptions, requiredOption, stringOption } from '../options.ts';
import { parsePosition } from '../positions.ts';
import { withTarget } from '../targets/open.ts';
import { outputFor } from '../terminal.ts';

const USAGE = `Usage: herald consume -t TOPIC [options]

Prints the messages of a topic: JSON lines on a pipe, a coloured layout on a terminal (CloudEvents
pretty-printed), or your own kcat-style format. Reads every partition; follows new messages
until Ctrl-C unless -e or -c is given.

Options:
  -t, --topic TOPIC      topic to read
  -g, --group GROUP      start at GROUP's committed offsets and commit as it reads (every second
                         and on exit, Ctrl-C included); refused while GROUP has live members
  -o, --offset POS       where to start without a committed offset: beginning (default), end,
                         N (absolute), -N (N before the end of each partition), @TIME (ms or ISO)
  -p, --partition LIST   only these partitions (0,2)
  -e, --exit             exit at the end of every partition instead of following
  -c, --count N          exit after N messages
  -f, --format FMT       kcat format: %t topic, %p partition, %o offset, %k key, %K key length,
                         %s value, %S value length, %h headers, %T timestamp (ms), %% and \\n \\t
  -q, --quiet            no summary on stderr
${COMMON_USAGE}
Examples:
  herald consume -t orders -e --data ./data
  herald consume -t orders -o -10 -e -f '%p:%o %k=%s\\n'
  herald consume -t orders -g audit -c 100 --json | jq .value
  herald consume -t orders -o @2025-01-31T12:00:00Z --broker 127.0.0.1:9092
`;

/** Options shared with `tail`. */
export const CONSUME_OPTIONS = {
  topic: { type: 'string', short: 't' },
  group: { type: 'string', short: 'g' },
  offset: { type: 'string', short: 'o' },
  partition: { type: 'string', short: 'p' },
  exit: { type: 'boolean', short: 'e' },
  count: { type: 'string', short: 'c' },
  format: { type: 'string', short: 'f' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

async function consume(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseOptions(args, CONSUME_OPTIONS);
  const output = outputFor(values, io);
  const settings = {
    topic: requiredOption(values, 'topic', '-t TOPIC'),
    group: stringOption(values, 'group'),
    start: parsePosition(stringOption(values, 'offset') ?? 'beginning', '-o'),
    partitions: parsePartitions(stringOption(values, 'partition')),
    follow: values.exit !== true,
    countMax: integerOption(values, 'count', '-c', 1),
    format: values.json === true ? undefined : stringOption(values, 'format'),
    quiet: values.quiet === true,
  };
  if (settings.countMax === 0) return EXIT.ok;
  return withTarget(values, io, false, (target) => runConsume(target, settings, output, io));
}

/** The `consume` command. */
export const consumeCommand: Command = {
  name: 'consume',
  summary: 'print messages (kcat -C): offsets, groups, -e, -c, formats, JSON, CloudEvents',
  usage: USAGE,
  run: consume,
};
