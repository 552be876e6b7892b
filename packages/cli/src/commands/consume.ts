/** `herald consume`: kcat -C for Herald: offsets, groups, formats, JSON, CloudEvents. */
import type { Command, CommandIo } from '../cli.ts';
import { parseClientConfig } from '../client-config.ts';
import { LAYOUT_OPTIONS, LAYOUT_USAGE, layoutOf, parsePartitions, runConsume } from '../consume-run.ts';
import { EXIT } from '../errors.ts';
import {
  integerOption,
  listOption,
  parseOptions,
  requiredOption,
  stringOption,
  TARGET_USAGE,
} from '../options.ts';
import { parseOffsetOptions } from '../positions.ts';
import { withTarget } from '../targets/open.ts';
import { outputFor } from '../terminal.ts';

const USAGE = `Usage: herald consume -t TOPIC [options]

Prints the messages of a topic as kcat -C does: each value and a newline, or your own kcat
format (-f), or kcat's JSON envelope (-J); Herald messages in the CloudEvents JSON format (--json)
or pretty-printed (--pretty). Reads every partition; follows new messages until Ctrl-C unless -e,
-c or -o e@ is given.

Options:
  -t, --topic TOPIC      topic to read
  -g, --group GROUP      start at GROUP's committed offsets and commit as it reads (every second
                         and on exit, Ctrl-C included); refused while GROUP has live members
  -o, --offset POS       where to start without a committed offset: beginning (default), end,
                         N (absolute), -N (N before the end of each partition), s@MS (the first
                         message at or after a timestamp), @TIME (ms or ISO 8601)
  -o e@MS                stop each partition before its first message at or after MS (or at its
                         end, once MS has passed) and exit when all have stopped; combines with
                         a start: -o s@A -o e@B
  -p, --partition LIST   only these partitions (0,2)
  -e, --exit             exit at the end of every partition instead of following
  -c, --count N          exit after N messages
  -q, --quiet            no summary on stderr
${LAYOUT_USAGE}${TARGET_USAGE}
Examples:
  herald consume -t orders -e --data ./data
  herald consume -t orders -o -10 -e -f '%p:%o %k=%s\\n'
  herald consume -t orders -g audit -c 100 --json | jq .data
  herald consume -t orders -o s@1767225600000 -o e@1767229200000 -J --broker 127.0.0.1:9092
`;

/** Options shared with `tail`. */
export const CONSUME_OPTIONS = {
  ...LAYOUT_OPTIONS,
  topic: { type: 'string', short: 't' },
  group: { type: 'string', short: 'g' },
  offset: { type: 'string', short: 'o', multiple: true },
  partition: { type: 'string', short: 'p' },
  exit: { type: 'boolean', short: 'e' },
  count: { type: 'string', short: 'c' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

async function consume(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseOptions(args, CONSUME_OPTIONS);
  const output = outputFor(values, io);
  const offsets = parseOffsetOptions(listOption(values, 'offset'), '-o');
  const settings = {
    topic: requiredOption(values, 'topic', '-t TOPIC'),
    group: stringOption(values, 'group'),
    start: offsets.start,
    endTimestampMs: offsets.endTimestampMs,
    partitions: parsePartitions(stringOption(values, 'partition')),
    follow: values.exit !== true,
    countMax: integerOption(values, 'count', '-c', 1),
    fetchWaitMs: parseClientConfig(listOption(values, 'config')).fetchWaitMs,
    layout: layoutOf(values, 'raw'),
    quiet: values.quiet === true,
  };
  if (settings.countMax === 0) return EXIT.ok;
  return withTarget(values, io, false, (target) => runConsume(target, settings, output));
}

/** The `consume` command. */
export const consumeCommand: Command = {
  name: 'consume',
  summary: 'print messages (kcat -C): offsets, groups, -e, -c, -f formats, -J, CloudEvents JSON',
  usage: USAGE,
  run: consume,
};
