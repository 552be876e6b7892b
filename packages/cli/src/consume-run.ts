/**
 * The reading loop shared by `consume` and `tail`: resolves start offsets (a group's committed
 * offsets first, then `-o`), prints each record in the chosen layout, commits the group's
 * position every second and once more on the way out (end of topic, `-c` reached, Ctrl-C).
 */
import { CliError, EXIT, UsageError } from './errors.ts';
import {
  formatRecord,
  formatRecordBytes,
  kcatJson,
  messageJson,
  prettyRecord,
  type RawLayout,
  rawRecord,
  rawRecordBytes,
  unescapeDelimiter,
} from './format.ts';
import { onInterrupt } from './interrupt.ts';
import { type OptionValues, stringOption } from './options.ts';
import { type Position, resolvePosition } from './positions.ts';
import { readTopic } from './reader.ts';
import type { ConsumedRecord, Target } from './targets/target.ts';
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
  /** Stop each partition at its first record at or after this time (kcat `-o e@`). */
  readonly endTimestampMs: number | undefined;
  /** How long a fetch waits for new records (`-X fetch.wait.max.ms`). */
  readonly fetchWaitMs: number;
  readonly layout: Layout;
  readonly quiet: boolean;
}

/** How records are printed. */
export type Layout =
  /** kcat's default: `[key<K>]value<D>`. */
  | { readonly kind: 'raw'; readonly raw: RawLayout }
  /** kcat `-f`. */
  | { readonly kind: 'format'; readonly format: string; readonly nullText: string }
  /** kcat `-J`. */
  | { readonly kind: 'kcat-json' }
  /** `--json`: CloudEvents in the CloudEvents JSON format. */
  | { readonly kind: 'cloudevents-json' }
  /** `--pretty`: the coloured human layout. */
  | { readonly kind: 'pretty' };

/** The options of {@link layoutOf}, shared by `consume` and `tail`. */
export const LAYOUT_OPTIONS = {
  format: { type: 'string', short: 'f' },
  'json-envelope': { type: 'boolean', short: 'J' },
  json: { type: 'boolean' },
  'key-delimiter': { type: 'string', short: 'K' },
  delimiter: { type: 'string', short: 'D' },
  'null-as-text': { type: 'boolean', short: 'Z' },
  unbuffered: { type: 'boolean', short: 'u' },
} as const;

/** The help text of {@link LAYOUT_OPTIONS}. */
export const LAYOUT_USAGE = `Output (the same on a terminal and on a pipe, as with kcat, unless said otherwise):
  (default)              the value and a newline, as kcat prints
  -K, --key-delimiter D  print the key and D before each value (kcat -K)
  -D, --delimiter D      print D after each message instead of a newline (kcat -D; \\n \\t \\xNN)
  -Z, --null-as-text     print NULL keys and values as NULL instead of nothing (kcat -Z)
  -f, --format FMT       kcat format: %t topic, %p partition, %o offset, %k key, %K key length,
                         %s value, %S value length, %h headers, %T timestamp (ms), %%, \\n \\t \\xNN
  -J, --json-envelope    kcat's JSON envelope per message: topic, partition, offset, tstype, ts,
                         broker, headers, key, payload (offsets are JSON numbers)
  --json                 Herald messages in the CloudEvents JSON format (specversion, id, source,
                         type, time, datacontenttype, extensions, data); other records as -J
  --pretty               a human layout, CloudEvents pretty-printed, coloured on a terminal
  --no-color, --color    colours off or on (default: on for a terminal unless NO_COLOR is set)
  -u, --unbuffered       accepted for kcat scripts (output is never held back)
  -h, --help             this help
  -V, --version          print the version
`;

/** The layout the options ask for; `fallback` when they name none. At most one of -f, -J, --json, --pretty. */
export function layoutOf(values: OptionValues, fallback: 'raw' | 'pretty'): Layout {
  const format = stringOption(values, 'format');
  const chosen = [
    format === undefined ? undefined : '-f',
    values['json-envelope'] === true ? '-J' : undefined,
    values.json === true ? '--json' : undefined,
    values.pretty === true ? '--pretty' : undefined,
  ].filter((flag) => flag !== undefined);
  if (chosen.length > 1) throw new UsageError(`give one of ${chosen.join(', ')}, not several`);
  const nullText = values['null-as-text'] === true ? 'NULL' : '';
  if (format !== undefined) return { kind: 'format', format, nullText };
  if (values['json-envelope'] === true) return { kind: 'kcat-json' };
  if (values.json === true) return { kind: 'cloudevents-json' };
  const keyDelimiter = stringOption(values, 'key-delimiter');
  const delimiter = stringOption(values, 'delimiter');
  // -K, -D or -Z ask for kcat's layout, even where the fallback is the human one (tail on a terminal).
  const rawAskedFor = keyDelimiter !== undefined || delimiter !== undefined || nullText !== '';
  if (values.pretty === true || (fallback === 'pretty' && !rawAskedFor)) return { kind: 'pretty' };
  return {
    kind: 'raw',
    raw: {
      keyDelimiter: keyDelimiter === undefined ? undefined : unescapeDelimiter(keyDelimiter),
      messageDelimiter: unescapeDelimiter(delimiter ?? '\\n'),
      nullText,
    },
  };
}

/** One record in `layout`. */
function render(layout: Layout, record: ConsumedRecord, output: Output): void {
  // Keys and values as the bytes they are, as kcat writes them; but never raw binary to a terminal.
  const bytesOut = output.io.stdoutIsTty === true ? undefined : output.io.stdoutBytes;
  switch (layout.kind) {
    case 'raw':
      if (bytesOut === undefined) output.io.stdout(rawRecord(record, layout.raw));
      else bytesOut(rawRecordBytes(record, layout.raw));
      return;
    case 'format':
      if (bytesOut === undefined) output.io.stdout(formatRecord(layout.format, record, layout.nullText));
      else bytesOut(formatRecordBytes(layout.format, record, layout.nullText));
      return;
    case 'kcat-json':
      output.jsonLine(kcatJson(record));
      return;
    case 'cloudevents-json':
      output.jsonLine(messageJson(record));
      return;
    default:
      output.line(prettyRecord(record, output.color));
  }
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
export async function runConsume(target: Target, settings: ConsumeSettings, output: Output): Promise<number> {
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
      endTimestampMs: settings.endTimestampMs,
      idleWaitMs: settings.fetchWaitMs,
      signal: interrupt.signal,
      onRecord: async (record) => {
        render(settings.layout, record, output);
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
