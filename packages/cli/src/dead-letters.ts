/**
 * Dead letters as the bus writes them (`@herald/bus` dead-letter.ts and dead-letters.ts): every
 * dead letter sits on `<topic>.dlq` with `herald_dlq_*` headers; a redrive republishes the
 * original to its topic addressed to the failed group (`herald_target_group`) and then appends a
 * tombstone (`herald_dlq_redriven: <id>`), so it is never redriven twice. Readers' end markers
 * (`herald_dlq_marker`) are skipped. This reads the topic directly by offset instead of joining a
 * reader group, so listing leaves nothing behind on the target.
 */
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_KEY,
  defaultDeadLetterTopic,
  TARGET_GROUP_HEADER,
} from '@herald/bus';
import { headerMap } from './format.ts';
import { readTopic } from './reader.ts';
import type { ConsumedRecord, OutgoingMessage, Target } from './targets/target.ts';

/** The bus's tombstone header (not exported by the bus; its value is the redriven dead-letter id). */
const REDRIVEN_HEADER = 'herald_dlq_redriven';
/** The bus's reader end-marker header. */
const MARKER_HEADER = 'herald_dlq_marker';
/** Prefix of the headers a redrive strips. */
const DEAD_LETTER_HEADER_PREFIX = 'herald_dlq_';

/** One pending dead letter. */
export interface DeadLetterEntry {
  readonly id: string;
  readonly topic: string;
  readonly group: string;
  readonly reason: string;
  readonly errorName: string;
  readonly errorMessage: string;
  readonly errorStack: string;
  readonly attempts: number;
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
  /** Where the original was: `<topic>/<partition>@<offset>`. */
  readonly originalPartition: number;
  readonly originalOffset: string;
  /** Where the dead letter itself is. */
  readonly record: ConsumedRecord;
}

/** Selects dead letters. */
export interface DeadLetterFilter {
  readonly group?: string | undefined;
  readonly reason?: string | undefined;
  readonly id?: string | undefined;
}

/** The dead-letter topic of `topic` (`<topic>.dlq`, the bus's default). */
export function deadLetterTopicOf(topic: string): string {
  return defaultDeadLetterTopic(topic);
}

/** Dead letters on `deadLetterTopic` not yet redriven, oldest first, matching `filter`. */
export async function pendingDeadLetters(
  target: Target,
  deadLetterTopic: string,
  filter: DeadLetterFilter,
  signal: AbortSignal,
): Promise<DeadLetterEntry[]> {
  const info = await target.describeTopic(deadLetterTopic);
  const start = new Map(info.partitions.map((partition) => [partition.partition, partition.logStartOffset]));
  const stop = new Map(info.partitions.map((partition) => [partition.partition, partition.highWatermark]));
  const entries: DeadLetterEntry[] = [];
  const redriven = new Set<string>();
  await readTopic({
    target,
    topic: deadLetterTopic,
    start,
    stopAt: stop,
    follow: false,
    signal,
    onRecord: (record) => {
      const headers = headerMap(record);
      const tombstone = headers[REDRIVEN_HEADER];
      if (tombstone !== undefined) redriven.add(tombstone);
      else if (headers[MARKER_HEADER] === undefined && headers[DEAD_LETTER_HEADERS.id] !== undefined) {
        entries.push(toEntry(record, headers));
      }
      return true;
    },
  });
  return entries
    .filter((entry) => !redriven.has(entry.id))
    .filter((entry) => filter.group === undefined || entry.group === filter.group)
    .filter((entry) => filter.reason === undefined || entry.reason === filter.reason)
    .filter((entry) => filter.id === undefined || entry.id === filter.id)
    .sort(
      (a, b) => a.lastFailedAt.localeCompare(b.lastFailedAt) || Number(a.record.offset - b.record.offset),
    );
}

function toEntry(record: ConsumedRecord, headers: Record<string, string>): DeadLetterEntry {
  const header = (name: string) => headers[name] ?? '';
  return {
    id: header(DEAD_LETTER_HEADERS.id),
    topic: header(DEAD_LETTER_HEADERS.topic),
    group: header(DEAD_LETTER_HEADERS.group),
    reason: header(DEAD_LETTER_HEADERS.reason),
    errorName: header(DEAD_LETTER_HEADERS.errorName),
    errorMessage: header(DEAD_LETTER_HEADERS.errorMessage),
    errorStack: header(DEAD_LETTER_HEADERS.errorStack),
    attempts: Number(header(DEAD_LETTER_HEADERS.attempts)),
    firstFailedAt: header(DEAD_LETTER_HEADERS.firstFailedAt),
    lastFailedAt: header(DEAD_LETTER_HEADERS.lastFailedAt),
    originalPartition: Number(header(DEAD_LETTER_HEADERS.partition)),
    originalOffset: header(DEAD_LETTER_HEADERS.offset),
    record,
  };
}

/** The original message of a dead letter, addressed to the group that failed it (as the bus redrives). */
export function originalOf(entry: DeadLetterEntry): OutgoingMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(headerMap(entry.record))) {
    if (!name.startsWith(DEAD_LETTER_HEADER_PREFIX)) headers[name] = value;
  }
  headers[TARGET_GROUP_HEADER] = entry.group;
  const key = headerMap(entry.record)[DEAD_LETTER_HEADERS.key];
  return { key, headers, value: entry.record.value ?? new Uint8Array(0) };
}

/** Republishes one dead letter, then appends its tombstone (that order: a crash redrives again rather than losing it). */
export async function redriveOne(
  target: Target,
  deadLetterTopic: string,
  entry: DeadLetterEntry,
): Promise<void> {
  await target.publish(entry.topic, [originalOf(entry)]);
  await target.publish(deadLetterTopic, [
    { key: DEAD_LETTER_KEY, headers: { [REDRIVEN_HEADER]: entry.id }, value: new Uint8Array(0) },
  ]);
}
