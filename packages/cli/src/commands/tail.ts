/** `herald tail`: follow a topic with colours, starting a few messages back. */
import type { Command, CommandIo } from '../cli.ts';
import { parseReadCommand } from '../consume-options.ts';
import { LAYOUT_USAGE, runConsume } from '../consume-run.ts';
import { TARGET_USAGE } from '../options.ts';
import { withTarget } from '../targets/open.ts';

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

async function tail(args: readonly string[], io: CommandIo): Promise<number> {
  const { values, settings, output } = parseReadCommand('tail', args, io);
  return withTarget(values, io, false, (target) => runConsume(target, settings, output));
}

/** The `tail` command. */
export const tailCommand: Command = {
  name: 'tail',
  summary: 'follow a topic with colours on a terminal (the last N messages, then new ones)',
  usage: USAGE,
  run: tail,
};
