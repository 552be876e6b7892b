/** `herald topics list|create|delete|describe`: topics with partitions, offsets, sizes and retention. */
import type { Command, CommandIo } from '../cli.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import {
  COMMON_USAGE,
  integerOption,
  type OptionValues,
  parseOptions,
  stringOption,
  subcommandOf,
} from '../options.ts';
import { withTarget } from '../targets/open.ts';
import type { TopicInfo } from '../targets/target.ts';
import { formatBytes, formatDuration, type Output, outputFor, paint, table } from '../terminal.ts';

const USAGE = `Usage: herald topics list|create|delete|describe [TOPIC] [options]

  list                   every topic: partitions, messages, size
  create TOPIC [-p N]    create a topic with N partitions (default: the target's, 4)
  delete TOPIC           delete a topic with its messages and committed offsets
  describe TOPIC         partitions with start and end offsets, messages, size, retention

Options:
  -t, --topic TOPIC      the topic (instead of the positional argument)
  -p, --partitions N     partitions of a new topic (1 to 1024)
  --if-not-exists        create: succeed when the topic exists already
  --if-exists            delete: succeed when the topic does not exist
${COMMON_USAGE}
Examples:
  herald topics create orders -p 4 --data ./data
  herald topics list --broker 127.0.0.1:9092
  herald topics describe orders --json | jq '.partitions[].highWatermark'
  herald topics delete orders --if-exists
`;

const OPTIONS = {
  topic: { type: 'string', short: 't' },
  partitions: { type: 'string', short: 'p' },
  'if-not-exists': { type: 'boolean' },
  'if-exists': { type: 'boolean' },
} as const;

function topicArgument(values: OptionValues, positionals: string[]): string {
  const topic = stringOption(values, 'topic') ?? positionals[1];
  if (topic === undefined || topic === '') throw new UsageError('name the topic: TOPIC or -t TOPIC');
  return topic;
}

function messagesOf(info: TopicInfo): bigint {
  return info.partitions.reduce(
    (sum, partition) => sum + partition.highWatermark - partition.logStartOffset,
    0n,
  );
}

function sizeOf(info: TopicInfo): number | undefined {
  let total = 0;
  for (const partition of info.partitions) {
    if (partition.sizeBytes === undefined) return undefined;
    total += partition.sizeBytes;
  }
  return total;
}

function topicJson(info: TopicInfo): Record<string, unknown> {
  return {
    name: info.name,
    partitionCount: info.partitions.length,
    messages: messagesOf(info),
    sizeBytes: sizeOf(info) ?? null,
    createdAt: info.createdAtMs === undefined ? null : new Date(info.createdAtMs).toISOString(),
    retention: {
      ms: info.retention.ms ?? null,
      bytes: info.retention.bytes ?? null,
      note: info.retention.note,
    },
    partitions: info.partitions.map((partition) => ({
      partition: partition.partition,
      logStartOffset: partition.logStartOffset,
      highWatermark: partition.highWatermark,
      messages: partition.highWatermark - partition.logStartOffset,
      sizeBytes: partition.sizeBytes ?? null,
    })),
  };
}

function printDescription(output: Output, info: TopicInfo): void {
  const size = sizeOf(info);
  const retention =
    info.retention.ms === undefined && info.retention.bytes === undefined
      ? info.retention.note
      : [
          info.retention.ms === undefined ? undefined : `${formatDuration(info.retention.ms)}`,
          info.retention.bytes === undefined ? undefined : formatBytes(info.retention.bytes),
        ]
          .filter((part) => part !== undefined)
          .join(', ');
  output.line(`${paint(output.color, 'bold', 'Topic:')} ${info.name}`);
  if (info.createdAtMs !== undefined) output.line(`Created: ${new Date(info.createdAtMs).toISOString()}`);
  output.line(
    `Partitions: ${info.partitions.length}   Messages: ${messagesOf(info)}   Size: ${size === undefined ? 'unknown' : formatBytes(size)}`,
  );
  output.line(`Retention: ${retention}`);
  output.line('');
  output.line(
    table(
      info.partitions.map((partition) => [
        String(partition.partition),
        String(partition.logStartOffset),
        String(partition.highWatermark),
        String(partition.highWatermark - partition.logStartOffset),
        partition.sizeBytes === undefined ? '-' : formatBytes(partition.sizeBytes),
      ]),
      ['PARTITION', 'START', 'END', 'MESSAGES', 'SIZE'],
      output.color,
    ),
  );
}

async function topics(args: readonly string[], io: CommandIo): Promise<number> {
  const subcommand = subcommandOf(args, ['list', 'create', 'delete', 'describe'], 'topics');
  const { values, positionals } = parseOptions(args, OPTIONS, 2);
  const output = outputFor(values, io);
  switch (subcommand) {
    case 'list':
      return withTarget(values, io, false, async (target) => {
        const infos: TopicInfo[] = [];
        for (const name of await target.listTopics()) infos.push(await target.describeTopic(name));
        if (output.json) {
          output.jsonLine(
            infos.map((info) => ({
              name: info.name,
              partitionCount: info.partitions.length,
              messages: messagesOf(info),
              sizeBytes: sizeOf(info) ?? null,
            })),
          );
        } else if (infos.length === 0) {
          output.log(`no topics in ${target.description}`);
        } else {
          output.line(
            table(
              infos.map((info) => {
                const size = sizeOf(info);
                return [
                  info.name,
                  String(info.partitions.length),
                  String(messagesOf(info)),
                  size === undefined ? '-' : formatBytes(size),
                ];
              }),
              ['TOPIC', 'PARTITIONS', 'MESSAGES', 'SIZE'],
              output.color,
            ),
          );
        }
        return EXIT.ok;
      });
    case 'create': {
      const topic = topicArgument(values, positionals);
      const partitions = integerOption(values, 'partitions', '--partitions', 1, 1024);
      return withTarget(values, io, true, async (target) => {
        try {
          await target.createTopic(topic, partitions);
        } catch (error) {
          if (
            !(
              values['if-not-exists'] === true &&
              error instanceof CliError &&
              error.exitCode === EXIT.conflict
            )
          )
            throw error;
        }
        const info = await target.describeTopic(topic);
        if (output.json) output.jsonLine({ created: topic, partitionCount: info.partitions.length });
        else
          output.log(
            `topic ${topic} ready with ${info.partitions.length} partitions on ${target.description}`,
          );
        return EXIT.ok;
      });
    }
    case 'delete': {
      const topic = topicArgument(values, positionals);
      return withTarget(values, io, false, async (target) => {
        try {
          await target.deleteTopic(topic);
        } catch (error) {
          if (values['if-exists'] === true && error instanceof CliError && error.exitCode === EXIT.notFound) {
            if (output.json) output.jsonLine({ deleted: null, missing: topic });
            else output.log(`topic ${topic} does not exist; nothing to delete`);
            return EXIT.ok;
          }
          throw error;
        }
        if (output.json) output.jsonLine({ deleted: topic });
        else output.log(`deleted topic ${topic} from ${target.description}`);
        return EXIT.ok;
      });
    }
    default: {
      const topic = topicArgument(values, positionals);
      return withTarget(values, io, false, async (target) => {
        const info = await target.describeTopic(topic);
        if (output.json) output.jsonLine(topicJson(info));
        else printDescription(output, info);
        return EXIT.ok;
      });
    }
  }
}

/** The `topics` command. */
export const topicsCommand: Command = {
  name: 'topics',
  summary: 'list, create, delete and describe topics (partitions, offsets, sizes, retention)',
  usage: USAGE,
  run: topics,
};
