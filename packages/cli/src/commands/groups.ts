/** `herald groups list|describe|reset`: consumer groups, lag per partition and in total, time lag, resets. */
import type { Command, CommandIo } from '../cli.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { lagOf, totals } from '../lag.ts';
import {
  COMMON_USAGE,
  type OptionValues,
  parseOptions,
  requiredOption,
  stringOption,
  subcommandOf,
} from '../options.ts';
import { parsePosition, resolvePosition } from '../positions.ts';
import { withTarget } from '../targets/open.ts';
import type { GroupKind, Target } from '../targets/target.ts';
import { formatDuration, type Output, outputFor, paint, table } from '../terminal.ts';

const USAGE = `Usage: herald groups list|describe|reset [options]

  list                             every group with its kind, topics, members and total lag
  describe -g GROUP [-t TOPIC]     per partition: committed offset, end, lag and time lag
                                   (age of the oldest unconsumed message), and the totals
  reset -g GROUP -t TOPIC --to POS move the group: earliest, latest, offset:N or time:ISO;
                                   refused while the group has live members

Group kinds: "kafka" groups keep committed offsets (Kafka clients of herald serve, and
herald consume -g); "embedded" groups are bus subscribers on the embedded transport, whose
acked positions live in the data directory (reachable with --data only).

Options:
  -g, --group GROUP      the group
  -t, --topic TOPIC      the topic
  --to POS               reset target: earliest, latest, offset:N, time:ISO (or -N, @TIME)
  --kind KIND            reset only this kind (kafka or embedded; default: the kinds the group has,
                         kafka for a new group)
  --dry-run              reset: show the new offsets without moving the group
${COMMON_USAGE}
Examples:
  herald groups list --data ./data
  herald groups describe -g billing -t orders --broker 127.0.0.1:9092
  herald groups reset -g billing -t orders --to earliest
  herald groups reset -g billing -t orders --to time:2025-01-31T12:00:00Z --dry-run
`;

const OPTIONS = {
  group: { type: 'string', short: 'g' },
  topic: { type: 'string', short: 't' },
  to: { type: 'string' },
  kind: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

async function list(target: Target, output: Output): Promise<number> {
  const groups = await target.listGroups();
  const rows: {
    group: string;
    kind: GroupKind;
    topics: readonly string[];
    members: number | undefined;
    lag: bigint;
  }[] = [];
  for (const entry of groups) {
    let lag = 0n;
    for (const position of await target.describeGroup(entry.group, undefined)) {
      if (position.kind !== entry.kind) continue;
      lag += totals(await lagOf(target, position, await target.describeTopic(position.topic))).lag;
    }
    rows.push({ ...entry, lag });
  }
  if (output.json) {
    output.jsonLine(rows.map((row) => ({ ...row, members: row.members ?? null })));
    return EXIT.ok;
  }
  if (rows.length === 0) {
    output.log(`no groups in ${target.description}`);
    return EXIT.ok;
  }
  output.line(
    table(
      rows.map((row) => [
        row.group,
        row.kind,
        row.topics.join(','),
        row.members === undefined ? '?' : String(row.members),
        String(row.lag),
      ]),
      ['GROUP', 'KIND', 'TOPICS', 'MEMBERS', 'LAG'],
      output.color,
    ),
  );
  return EXIT.ok;
}

async function describe(
  target: Target,
  output: Output,
  group: string,
  topic: string | undefined,
): Promise<number> {
  const positions = await target.describeGroup(group, topic);
  if (positions.length === 0) {
    throw new CliError(
      `group "${group}" has no positions${topic === undefined ? '' : ` on ${topic}`} in ${target.description}`,
      EXIT.notFound,
    );
  }
  const described = [];
  for (const position of positions) {
    const lags = await lagOf(target, position, await target.describeTopic(position.topic));
    described.push({ position, lags, total: totals(lags) });
  }
  if (output.json) {
    output.jsonLine(
      described.map(({ position, lags, total }) => ({
        group,
        topic: position.topic,
        kind: position.kind,
        members: position.members ?? null,
        lag: total.lag,
        timeLagMs: total.timeLagMs,
        partitions: lags.map((entry) => ({ ...entry, committed: entry.committed ?? null })),
      })),
    );
    return EXIT.ok;
  }
  for (const { position, lags, total } of described) {
    const members = position.members === undefined ? 'unknown' : String(position.members);
    output.line(
      `${paint(output.color, 'bold', `Group ${group}`)} on ${position.topic} (${position.kind}, members: ${members})`,
    );
    output.line(
      table(
        lags.map((entry) => [
          String(entry.partition),
          entry.committed === undefined ? '-' : String(entry.committed),
          String(entry.end),
          entry.lag > 0n ? paint(output.color, 'yellow', String(entry.lag)) : String(entry.lag),
          entry.lag > 0n ? formatDuration(entry.timeLagMs) : '-',
        ]),
        ['PARTITION', 'COMMITTED', 'END', 'LAG', 'TIME LAG'],
        output.color,
      ),
    );
    output.line(
      `Total lag: ${total.lag} message${total.lag === 1n ? '' : 's'}, ${total.lag > 0n ? `oldest ${formatDuration(total.timeLagMs)} behind` : 'caught up'}`,
    );
    output.line('');
  }
  return EXIT.ok;
}

async function reset(target: Target, output: Output, values: OptionValues): Promise<number> {
  const group = requiredOption(values, 'group', '-g GROUP');
  const topic = requiredOption(values, 'topic', '-t TOPIC');
  const to = parsePosition(requiredOption(values, 'to', '--to POS'), '--to');
  const kindOption = stringOption(values, 'kind');
  if (kindOption !== undefined && kindOption !== 'kafka' && kindOption !== 'embedded') {
    throw new UsageError(`--kind must be kafka or embedded, got "${kindOption}"`);
  }
  const info = await target.describeTopic(topic);
  const positions = await target.describeGroup(group, topic);
  for (const position of positions) {
    if (position.members !== undefined && position.members > 0) {
      throw new CliError(
        `group "${group}" has ${position.members} live member(s) on ${topic}; a reset under running consumers ` +
          'would be overwritten by their next commit; stop them first',
        EXIT.conflict,
      );
    }
  }
  const kinds: GroupKind[] =
    kindOption !== undefined
      ? [kindOption]
      : positions.length > 0
        ? [...new Set(positions.map((position) => position.kind))]
        : ['kafka'];
  const offsets = new Map<number, bigint>();
  for (const partition of info.partitions) {
    offsets.set(partition.partition, await resolvePosition(target, topic, partition, to));
  }
  const results = [];
  for (const kind of kinds) {
    const before =
      positions.find((position) => position.kind === kind)?.committed ?? new Map<number, bigint>();
    if (values['dry-run'] !== true) await target.moveGroup(group, topic, kind, offsets);
    results.push({
      group,
      topic,
      kind,
      dryRun: values['dry-run'] === true,
      partitions: [...offsets].map(([partition, offset]) => ({
        partition,
        from: before.get(partition) ?? null,
        to: offset,
      })),
    });
  }
  if (output.json) {
    output.jsonLine(results);
    return EXIT.ok;
  }
  for (const result of results) {
    const verb = result.dryRun ? 'would move' : 'moved';
    output.line(`${verb} ${result.kind} group ${group} on ${topic}:`);
    output.line(
      table(
        result.partitions.map((entry) => [
          String(entry.partition),
          entry.from === null ? '-' : String(entry.from),
          String(entry.to),
        ]),
        ['PARTITION', 'FROM', 'TO'],
        output.color,
      ),
    );
  }
  return EXIT.ok;
}

async function groups(args: readonly string[], io: CommandIo): Promise<number> {
  const subcommand = subcommandOf(args, ['list', 'describe', 'reset'], 'groups');
  const { values } = parseOptions(args, OPTIONS, 1);
  const output = outputFor(values, io);
  // Usage errors before the target is opened, so they exit 2 whatever the target's state.
  if (subcommand !== 'list') requiredOption(values, 'group', '-g GROUP');
  if (subcommand === 'reset') {
    requiredOption(values, 'topic', '-t TOPIC');
    parsePosition(requiredOption(values, 'to', '--to POS'), '--to');
  }
  return withTarget(values, io, false, (target) => {
    switch (subcommand) {
      case 'list':
        return list(target, output);
      case 'describe':
        return describe(
          target,
          output,
          requiredOption(values, 'group', '-g GROUP'),
          stringOption(values, 'topic'),
        );
      default:
        return reset(target, output, values);
    }
  });
}

/** The `groups` command. */
export const groupsCommand: Command = {
  name: 'groups',
  summary: 'list and describe consumer groups with lag and time lag; reset their offsets',
  usage: USAGE,
  run: groups,
};
