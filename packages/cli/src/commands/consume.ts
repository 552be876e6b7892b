/** `herald consume`: kcat -C for Herald: offsets, groups, formats, JSON, CloudEvents. */
import type { Command, CommandIo } from '../cli.ts';
import { parseReadCommand } from '../consume-options.ts';
import { LAYOUT_USAGE, runConsume } from '../consume-run.ts';
import { EXIT } from '../errors.ts';
import { TARGET_USAGE } from '../options.ts';
import { withTarget } from '../targets/open.ts';

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

async function consume(args: readonly string[], io: CommandIo): Promise<number> {
  const { values, settings, output } = parseReadCommand('consume', args, io);
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
