/** `herald dlq list|show|redrive`: the dead letters of a topic, with filters and a redrive progress bar. */
import type { Command, CommandIo } from '../cli.ts';
import {
  type DeadLetterEntry,
  type DeadLetterFilter,
  deadLetterTopicOf,
  pendingDeadLetters,
  redriveOne,
} from '../dead-letters.ts';
import { CliError, EXIT } from '../errors.ts';
import { cloudEventJson, cloudEventOf, headerMap, prettyRecord } from '../format.ts';
import { onInterrupt } from '../interrupt.ts';
import {
  COMMON_USAGE,
  integerOption,
  parseOptions,
  requiredOption,
  stringOption,
  subcommandOf,
} from '../options.ts';
import { startProgress } from '../progress.ts';
import { withTarget } from '../targets/open.ts';
import type { Target } from '../targets/target.ts';
import { type Output, outputFor, paint, table } from '../terminal.ts';

const USAGE = `Usage: herald dlq list|show|redrive -t TOPIC [filters] [options]

Dead letters are the messages a Herald bus gave up on, kept on TOPIC.dlq with the reason, the
error, the attempts and the group that failed them.

  list      pending dead letters (not yet redriven), oldest first
  show      one dead letter in full: headers, error stack, the original message
  redrive   republish the originals to TOPIC for the group that failed them, then mark them
            redriven (never redriven twice); a progress bar on a terminal

Filters:
  -t, --topic TOPIC      the original topic (its dead-letter topic TOPIC.dlq is read)
  -g, --group GROUP      only dead letters of this group
  --reason REASON        only this reason: undecodable, invalid, unknown-type, unrecoverable,
                         retries-exhausted
  --id ID                only this dead letter (show needs it)
  --limit N              at most N (default: all)
Options:
  --dlq-topic NAME       the dead-letter topic, when the bus was given another name
  --dry-run              redrive: list what would be redriven
${COMMON_USAGE}
Examples:
  herald dlq list -t orders --data ./data
  herald dlq show -t orders --id 0190a1b2-…
  herald dlq redrive -t orders -g billing --reason retries-exhausted
`;

const OPTIONS = {
  topic: { type: 'string', short: 't' },
  group: { type: 'string', short: 'g' },
  reason: { type: 'string' },
  id: { type: 'string' },
  limit: { type: 'string' },
  'dlq-topic': { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

/** A header's offset as a JSON number (a bigint, so no precision is lost), or null when it is not one. */
function offsetJson(text: string): bigint | null {
  return /^\d+$/.test(text) ? BigInt(text) : null;
}

function summaryJson(entry: DeadLetterEntry): Record<string, unknown> {
  return {
    id: entry.id,
    topic: entry.topic,
    group: entry.group,
    reason: entry.reason,
    errorName: entry.errorName,
    errorMessage: entry.errorMessage,
    attempts: entry.attempts,
    firstFailedAt: entry.firstFailedAt,
    lastFailedAt: entry.lastFailedAt,
    type: cloudEventOf(entry.record)?.type ?? null,
    original: { partition: entry.originalPartition, offset: offsetJson(entry.originalOffset) },
    deadLetter: { partition: entry.record.partition, offset: entry.record.offset },
  };
}

function printList(output: Output, entries: readonly DeadLetterEntry[], deadLetterTopic: string): void {
  if (output.json) {
    output.jsonLine(entries.map(summaryJson));
    return;
  }
  if (entries.length === 0) {
    output.log(`no pending dead letters on ${deadLetterTopic}`);
    return;
  }
  output.line(
    table(
      entries.map((entry) => [
        entry.id,
        entry.group,
        paint(output.color, 'red', entry.reason),
        String(entry.attempts),
        entry.lastFailedAt,
        `${entry.errorName}: ${entry.errorMessage}`.slice(0, 80),
      ]),
      ['ID', 'GROUP', 'REASON', 'ATTEMPTS', 'LAST FAILED', 'ERROR'],
      output.color,
    ),
  );
}

function printShow(output: Output, entry: DeadLetterEntry): void {
  if (output.json) {
    const event = cloudEventOf(entry.record);
    output.jsonLine({
      ...summaryJson(entry),
      errorStack: entry.errorStack,
      key: entry.record.key === null ? null : Buffer.from(entry.record.key).toString('utf8'),
      headers: headerMap(entry.record),
      value: entry.record.value === null ? null : Buffer.from(entry.record.value).toString('utf8'),
      // The original Herald message in the CloudEvents JSON format (extensions top-level).
      ...(event === undefined ? {} : { cloudEvent: cloudEventJson(event) }),
    });
    return;
  }
  const label = (text: string) => paint(output.color, 'bold', text.padEnd(14));
  output.line(`${label('Dead letter')}${entry.id}`);
  output.line(`${label('Original')}${entry.topic}/${entry.originalPartition}@${entry.originalOffset}`);
  output.line(`${label('Group')}${entry.group}`);
  output.line(
    `${label('Reason')}${paint(output.color, 'red', entry.reason)} after ${entry.attempts} attempt(s)`,
  );
  output.line(`${label('Failed')}${entry.firstFailedAt} … ${entry.lastFailedAt}`);
  output.line(`${label('Error')}${entry.errorName}: ${entry.errorMessage}`);
  if (entry.errorStack !== '') output.line(paint(output.color, 'gray', entry.errorStack));
  output.line('');
  output.line(prettyRecord(entry.record, output.color));
}

async function select(
  target: Target,
  deadLetterTopic: string,
  filter: DeadLetterFilter,
  limit: number | undefined,
) {
  if (!(await target.listTopics()).includes(deadLetterTopic)) return [];
  const interrupt = onInterrupt();
  try {
    const entries = await pendingDeadLetters(target, deadLetterTopic, filter, interrupt.signal);
    return limit === undefined ? entries : entries.slice(0, limit);
  } finally {
    interrupt.dispose();
  }
}

async function dlq(args: readonly string[], io: CommandIo): Promise<number> {
  const subcommand = subcommandOf(args, ['list', 'show', 'redrive'], 'dlq');
  const { values } = parseOptions(args, OPTIONS, 1);
  const output = outputFor(values, io);
  const topic = requiredOption(values, 'topic', '-t TOPIC');
  const deadLetterTopic = stringOption(values, 'dlq-topic') ?? deadLetterTopicOf(topic);
  const filter = {
    group: stringOption(values, 'group'),
    reason: stringOption(values, 'reason'),
    id: stringOption(values, 'id'),
  };
  const limit = integerOption(values, 'limit', '--limit', 1);
  if (subcommand === 'show') requiredOption(values, 'id', '--id ID');
  return withTarget(values, io, false, async (target) => {
    const entries = await select(target, deadLetterTopic, filter, limit);
    if (subcommand === 'list') {
      printList(output, entries, deadLetterTopic);
      return EXIT.ok;
    }
    if (subcommand === 'show') {
      const entry = entries[0];
      if (entry === undefined) {
        throw new CliError(`no pending dead letter ${filter.id} on ${deadLetterTopic}`, EXIT.notFound);
      }
      printShow(output, entry);
      return EXIT.ok;
    }
    if (values['dry-run'] === true) {
      printList(output, entries, deadLetterTopic);
      return EXIT.ok;
    }
    const interrupt = onInterrupt();
    const progress = startProgress(output, `redrive ${deadLetterTopic}`, entries.length, 'letters');
    let redriven = 0;
    try {
      for (const entry of entries) {
        if (interrupt.signal.aborted) break;
        await redriveOne(target, deadLetterTopic, entry);
        redriven += 1;
        progress.update(redriven);
      }
    } finally {
      progress.finish();
      interrupt.dispose();
    }
    const interrupted = interrupt.signal.aborted && redriven < entries.length;
    if (output.json)
      output.jsonLine({ topic, deadLetterTopic, redriven, matched: entries.length, interrupted });
    else
      output.log(
        `redrove ${redriven} of ${entries.length} dead letter(s) from ${deadLetterTopic} to ${topic}${interrupted ? ' (interrupted)' : ''}`,
      );
    return interrupted ? EXIT.interrupted : EXIT.ok;
  });
}

/** The `dlq` command. */
export const dlqCommand: Command = {
  name: 'dlq',
  summary: 'list, show and redrive dead letters (filters by group, reason, id)',
  usage: USAGE,
  run: dlq,
};
