/** `herald tail`: follow a topic with colours, starting a few messages back. */
import type { Command, CommandIo } from '../cli.ts';
import { parseClientConfig } from '../client-config.ts';
import { LAYOUT_OPTIONS, LAYOUT_USAGE, layoutOf, parsePartitions, runConsume } from '../consume-run.ts';
import {
  integerOption,
  listOption,
  parseOptions,
  requiredOption,
  stringOption,
  TARGET_USAGE,
} from '../options.ts';
import { withTarget } from '../targets/open.ts';
import { outputFor } from '../terminal.ts';

const USAGE = `Usage: herald tail -t TOPIC [options]

Follows a topic like tail -f: the last N messages of each partition, then new ones as they
arrive. On a terminal they are coloured (CloudEvents pretty-printed); on a pipe each value and a
newline, as herald consume (and kcat) print them. Ctrl-C stops.

Options:
  -t, --topic TOPIC      topic to follow
  -n, --lines N          start N messages before the end of each partition (default 10)
  -p, --partition LIST   only these partitions (0,2)
  -e, --exit             stop at the end instead of following
  -q, --quiet            no summary on stderr
${LAYOUT_USAGE}${TARGET_USAGE}
Examples:
  herald tail -t orders --broker 127.0.0.1:9092
  herald tail -t orders -n 0 --json | jq -c '{type, data}'
`;

const OPTIONS = {
  ...LAYOUT_OPTIONS,
  topic: { type: 'string', short: 't' },
  lines: { type: 'string', short: 'n' },
  partition: { type: 'string', short: 'p' },
  exit: { type: 'boolean', short: 'e' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

async function tail(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const output = outputFor(values, io);
  const lines = integerOption(values, 'lines', '-n', 0) ?? 10;
  const settings = {
    topic: requiredOption(values, 'topic', '-t TOPIC'),
    group: undefined,
    start: { kind: 'fromEnd', count: BigInt(lines) } as const,
    endTimestampMs: undefined,
    partitions: parsePartitions(stringOption(values, 'partition')),
    follow: values.exit !== true,
    countMax: undefined,
    fetchWaitMs: parseClientConfig(listOption(values, 'config')).fetchWaitMs,
    // The human view on a terminal; on a pipe what consume prints, so `tail | grep` sees values.
    layout: layoutOf(values, io.stdoutIsTty === true ? 'pretty' : 'raw'),
    quiet: values.quiet === true,
  };
  return withTarget(values, io, false, (target) => runConsume(target, settings, output));
}

/** The `tail` command. */
export const tailCommand: Command = {
  name: 'tail',
  summary: 'follow a topic with colours on a terminal (the last N messages, then new ones)',
  usage: USAGE,
  run: tail,
};
