/**
 * The reading loop shared by `consume` and `tail`: resolves start offsets (a group's committed
 * offsets first, then `-o`), prints each record in the chosen layout, commits the group's
 * position every second and once more on the way out (end of topic, `-c` reached, Ctrl-C).
 */
import type { CommandIo } from './cli.ts';
import { CliError, EXIT, UsageError } from './errors.ts';
import { formatRecord, prettyRecord, recordJson } from './format.ts';
import { onInterrupt } from './interrupt.ts';
import { type Position, resolvePosition } from './positions.ts';
import { readTopic } from './reader.ts';
import type { Target } from './targets/target.ts';
import type { Output } from './terminal.ts';

/** How often a group's position is committed while reading. */
const COMMIT_INTERVAL_MS = 1000;

/** What `consume` and `tail` decided from their options. */
export interface ConsumeSettings {
  readonly topic: string;
  readonly group: string | undefined;
  readonly start: Position;
  /** Only these partitions (all when undefined). */
  readonly partitions: readonly number[] | undefined;
  readonly follow: boolean;
  readonly countMax: number | undefined;
  /** A kcat format string; undefined for the JSON or human layout. */
  readonly format: string | undefined;
  readonly quiet: boolean;
}

/** Parses `-p 0,2` into partition numbers. */
export function parsePartitions(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const partitions = text.split(',').map((part) => Number(part.trim()));
  if (partitions.some((partition) => !Number.isSafeInteger(partition) || partition < 0)) {
    throw new UsageError(`-p ${text}: give partition numbers, comma-separated (0,2)`);
  }
  return partitions;
}

/** Reads and prints; resolves the exit code. */
export async function runConsume(
  target: Target,
  settings: ConsumeSettings,
  output: Output,
  io: CommandIo,
): Promise<number> {
  const info = await target.describeTopic(settings.topic);
  const chosen = settings.partitions ?? info.partitions.map((partition) => partition.partition);
  for (const partition of chosen) {
    if (partition >= info.partitions.length) {
      throw new CliError(
        `topic "${settings.topic}" has partitions 0 to ${info.partitions.length - 1}, not ${partition}`,
        EXIT.notFound,
      );
    }
  }
  const committed = new Map<number, bigint>();
  if (settings.group !== undefined) {
    const positions = await target.describeGroup(settings.group, settings.topic);
    for (const [partition, offset] of positions.find((position) => position.kind === 'kafka')?.committed ??
      []) {
      committed.set(partition, offset);
    }
  }
  const start = new Map<number, bigint>();
  for (const partition of chosen) {
    const described = info.partitions[partition]!;
    const stored = committed.get(partition);
    start.set(
      partition,
      stored !== undefined && stored >= described.logStartOffset
        ? stored
        : await resolvePosition(target, settings.topic, described, settings.start),
    );
  }
  const group = settings.group;
  const committedNow = new Map(start);
  const commit = async (positions: ReadonlyMap<number, bigint>) => {
    if (group === undefined) return;
    const moved = new Map(
      [...positions].filter(([partition, offset]) => committedNow.get(partition) !== offset),
    );
    if (moved.size === 0) return;
    await target.moveGroup(group, settings.topic, 'kafka', moved);
    for (const [partition, offset] of moved) committedNow.set(partition, offset);
  };
  if (group !== undefined) {
    // Joins the group at its position now, so a group with live members is refused before reading.
    await target.moveGroup(group, settings.topic, 'kafka', start);
  }
  const interrupt = onInterrupt();
  const current = new Map(start);
  let count = 0;
  let lastCommitMs = performance.now();
  try {
    const final = await readTopic({
      target,
      topic: settings.topic,
      start,
      follow: settings.follow,
      signal: interrupt.signal,
      onRecord: async (record) => {
        if (settings.format !== undefined) io.stdout(formatRecord(settings.format, record));
        else if (output.json) output.jsonLine(recordJson(record));
        else output.line(prettyRecord(record, output.color));
        count += 1;
        current.set(record.partition, record.offset + 1n);
        if (group !== undefined && performance.now() - lastCommitMs >= COMMIT_INTERVAL_MS) {
          lastCommitMs = performance.now();
          await commit(current);
        }
        return settings.countMax === undefined || count < settings.countMax;
      },
    });
    await commit(final);
  } finally {
    interrupt.dispose();
  }
  if (!settings.quiet) {
    const why = interrupt.signal.aborted ? ' (interrupted)' : '';
    const where = group === undefined ? '' : `; group ${group} committed`;
    output.log(`consumed ${count} message${count === 1 ? '' : 's'} from ${settings.topic}${where}${why}`);
  }
  return EXIT.ok;
}
