/**
 * `herald replay`: copies a window of one topic into another (keys, headers and values kept;
 * timestamps are the new append's). The window is fixed when the command starts, so a replay
 * into the topic it reads from terminates.
 */
import type { Command, CommandIo } from '../cli.ts';
import { EXIT, UsageError } from '../errors.ts';
import { headerMap } from '../format.ts';
import { onInterrupt } from '../interrupt.ts';
import { COMMON_USAGE, parseOptions, requiredOption, stringOption } from '../options.ts';
import { parsePosition, resolvePosition } from '../positions.ts';
import { startProgress } from '../progress.ts';
import { readTopic } from '../reader.ts';
import { withTarget } from '../targets/open.ts';
import type { OutgoingMessage } from '../targets/target.ts';
import { outputFor } from '../terminal.ts';

const USAGE = `Usage: herald replay -t SOURCE --to DESTINATION [--from POS] [--until POS]

Copies the messages of SOURCE in the window [--from, --until) to DESTINATION, partition by
partition in offset order, with a progress bar on a terminal. Keys, headers and values are kept
(keys pick the destination partition as usual).

Options:
  -t, --topic SOURCE     topic to read
  --to DESTINATION       topic to write (created when the target auto-creates topics)
  --from POS             start: beginning (default), N, -N, s@MS, @TIME / time:ISO
  --until POS            end, exclusive: end (default: the end when the replay starts), N, s@MS,
                         @TIME
  -p, --partition LIST   only these source partitions (0,2)
${COMMON_USAGE}
Examples:
  herald replay -t orders --to orders-replay --data ./data
  herald replay -t orders --to orders --from @2025-01-31T12:00:00Z --until @2025-01-31T13:00:00Z
`;

const OPTIONS = {
  topic: { type: 'string', short: 't' },
  to: { type: 'string' },
  from: { type: 'string' },
  until: { type: 'string' },
  partition: { type: 'string', short: 'p' },
} as const;

const BATCH_MAX = 500;

async function replay(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const output = outputFor(values, io);
  const source = requiredOption(values, 'topic', '-t SOURCE');
  const destination = requiredOption(values, 'to', '--to DESTINATION');
  const from = parsePosition(stringOption(values, 'from') ?? 'beginning', '--from');
  const until = parsePosition(stringOption(values, 'until') ?? 'end', '--until');
  const only = stringOption(values, 'partition')
    ?.split(',')
    .map((part) => Number(part));
  if (only?.some((partition) => !Number.isSafeInteger(partition) || partition < 0)) {
    throw new UsageError('-p: give partition numbers, comma-separated (0,2)');
  }
  return withTarget(values, io, true, async (target) => {
    const info = await target.describeTopic(source);
    const start = new Map<number, bigint>();
    const stop = new Map<number, bigint>();
    let total = 0n;
    for (const partition of info.partitions) {
      if (only !== undefined && !only.includes(partition.partition)) continue;
      const first = await resolvePosition(target, source, partition, from);
      const end = await resolvePosition(target, source, partition, until);
      start.set(partition.partition, first);
      stop.set(partition.partition, end);
      if (end > first) total += end - first;
    }
    const interrupt = onInterrupt();
    const progress = startProgress(output, `replay ${source} → ${destination}`, Number(total), 'msgs');
    let copied = 0;
    let batch: OutgoingMessage[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await target.publish(destination, batch);
      copied += batch.length;
      batch = [];
      progress.update(copied);
    };
    try {
      await readTopic({
        target,
        topic: source,
        start,
        stopAt: stop,
        follow: false,
        signal: interrupt.signal,
        onRecord: async (record) => {
          batch.push({
            key: record.key === null ? undefined : Buffer.from(record.key).toString('utf8'),
            headers: headerMap(record),
            value: record.value ?? new Uint8Array(0),
          });
          if (batch.length >= BATCH_MAX) await flush();
          return true;
        },
      });
      await flush();
    } finally {
      progress.finish();
      interrupt.dispose();
    }
    const interrupted = interrupt.signal.aborted;
    if (output.json) output.jsonLine({ source, destination, replayed: copied, interrupted });
    else
      output.log(
        `replayed ${copied} message${copied === 1 ? '' : 's'} from ${source} to ${destination}${interrupted ? ' (interrupted)' : ''}`,
      );
    return interrupted ? EXIT.interrupted : EXIT.ok;
  });
}

/** The `replay` command. */
export const replayCommand: Command = {
  name: 'replay',
  summary: 'copy a window of a topic (by offset or time) into another topic',
  usage: USAGE,
  run: replay,
};
