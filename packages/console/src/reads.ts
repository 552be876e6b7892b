/**
 * The console's reads and writes of topics, groups and dead letters: thin mappings from the CLI's
 * targets, lag and dead-letter modules to the page's types, so the console reads the broker the
 * way `herald topics|groups|dlq` do.
 */
import {
  CliError,
  deadLetterTopicOf,
  EXIT,
  lagOf,
  parsePosition,
  pendingDeadLetters,
  redriveOne,
  resolvePosition,
  type Target,
  totals,
} from '@herald/cli/internal';
import type {
  DeadLetterView,
  GroupView,
  MessagePage,
  RedriveAllRequest,
  RedriveAllResult,
  RedriveRequest,
  ResetRequest,
  TopicView,
} from './api-types.ts';
import { messageViewOf } from './message-view.ts';

/** Dead letters one redrive-all request republishes at most (then it says there are more). */
export const REDRIVE_ALL_MAX = 1000;

/** Messages one page of the topic browser holds at most. */
export const PAGE_MESSAGES_MAX = 200;

/** Every topic with its partitions and offsets. */
export async function listTopicViews(target: Target): Promise<TopicView[]> {
  const names = (await target.listTopics()).sort();
  return Promise.all(
    names.map(async (name) => {
      const info = await target.describeTopic(name);
      const messages = info.partitions.reduce((sum, p) => sum + (p.highWatermark - p.logStartOffset), 0n);
      return {
        name,
        partitions: info.partitions.map((p) => ({
          partition: p.partition,
          logStartOffset: String(p.logStartOffset),
          highWatermark: String(p.highWatermark),
          sizeBytes: p.sizeBytes ?? null,
        })),
        messages: String(messages),
        retentionNote: info.retention.note,
      };
    }),
  );
}

/** Up to `limit` messages of one partition from `offset` (clamped to what is stored). */
export async function readMessagePage(
  target: Target,
  topic: string,
  partition: number,
  offset: bigint,
  limit: number,
): Promise<MessagePage> {
  const count = Math.min(Math.max(1, limit), PAGE_MESSAGES_MAX);
  const messages = [];
  let next = offset;
  let highWatermark = 0n;
  // Bounded: each fetch moves `next` forward or ends the page; at most `count` messages are kept.
  for (let round = 0; round < count && messages.length < count; round++) {
    const page = await target.fetch(topic, partition, next, 0);
    highWatermark = page.highWatermark;
    if (next < page.logStartOffset) next = page.logStartOffset;
    for (const record of page.records) {
      if (messages.length >= count) break;
      messages.push(messageViewOf(record));
      next = record.offset + 1n;
    }
    if (page.records.length === 0) {
      if (page.nextOffset > next) next = page.nextOffset;
      else break;
    }
    if (next >= page.highWatermark) break;
  }
  return { messages, nextOffset: String(next), highWatermark: String(highWatermark) };
}

/** Every group with its positions, members and lag per partition. */
export async function listGroupViews(target: Target): Promise<GroupView[]> {
  const listings = await target.listGroups();
  const names = [...new Set(listings.map((listing) => listing.group))].sort();
  const views: GroupView[] = [];
  for (const group of names) {
    const positions = [];
    let total = 0n;
    for (const position of await target.describeGroup(group, undefined)) {
      const lags = await lagOf(target, position, await target.describeTopic(position.topic));
      const sum = totals(lags);
      total += sum.lag;
      positions.push({
        topic: position.topic,
        kind: position.kind,
        members: position.members ?? null,
        lag: String(sum.lag),
        timeLagMs: sum.timeLagMs,
        partitions: lags.map((lag) => ({
          partition: lag.partition,
          committed: lag.committed === undefined ? null : String(lag.committed),
          end: String(lag.end),
          lag: String(lag.lag),
          timeLagMs: lag.timeLagMs,
        })),
      });
    }
    views.push({ group, positions, lag: String(total) });
  }
  return views;
}

/**
 * Moves a group on a topic as `herald groups reset` does; refused (a conflict CliError) while it
 * has live members, whose next commit would overwrite the reset.
 */
export async function resetGroup(target: Target, request: ResetRequest): Promise<void> {
  const position = parsePosition(request.to, 'to');
  const info = await target.describeTopic(request.topic);
  const positions = await target.describeGroup(request.group, request.topic);
  for (const entry of positions) {
    if (entry.members !== undefined && entry.members > 0) {
      throw new CliError(
        `group "${request.group}" has ${entry.members} live member(s) on ${request.topic}; stop its consumers before resetting it`,
        EXIT.conflict,
      );
    }
  }
  const offsets = new Map<number, bigint>();
  for (const partition of info.partitions) {
    offsets.set(partition.partition, await resolvePosition(target, request.topic, partition, position));
  }
  const kinds =
    positions.length > 0 ? [...new Set(positions.map((entry) => entry.kind))] : (['kafka'] as const);
  for (const kind of kinds) await target.moveGroup(request.group, request.topic, kind, offsets);
}

/** The dead-letter topics: the bus's `<topic>.dlq` names. */
async function deadLetterTopics(target: Target): Promise<string[]> {
  const suffix = deadLetterTopicOf('');
  return (await target.listTopics()).filter((name) => name.endsWith(suffix));
}

/** Every pending dead letter, oldest failure first. */
export async function listDeadLetterViews(target: Target, signal: AbortSignal): Promise<DeadLetterView[]> {
  const views: DeadLetterView[] = [];
  for (const deadLetterTopic of await deadLetterTopics(target)) {
    for (const entry of await pendingDeadLetters(target, deadLetterTopic, {}, signal)) {
      views.push({
        id: entry.id,
        deadLetterTopic,
        topic: entry.topic,
        group: entry.group,
        reason: entry.reason,
        errorName: entry.errorName,
        errorMessage: entry.errorMessage,
        attempts: entry.attempts,
        firstFailedAt: entry.firstFailedAt,
        lastFailedAt: entry.lastFailedAt,
        originalPartition: entry.originalPartition,
        originalOffset: entry.originalOffset,
        original: messageViewOf(entry.record),
      });
    }
  }
  return views.sort((a, b) => a.lastFailedAt.localeCompare(b.lastFailedAt));
}

/** Redrives one dead letter (the CLI's `dlq redrive`); a not-found CliError when it is gone. */
export async function redriveDeadLetter(
  target: Target,
  request: RedriveRequest,
  signal: AbortSignal,
): Promise<void> {
  const [entry] = await pendingDeadLetters(target, request.deadLetterTopic, { id: request.id }, signal);
  if (entry === undefined) {
    throw new CliError(
      `no pending dead letter "${request.id}" on ${request.deadLetterTopic}; it may have been redriven already`,
      EXIT.notFound,
    );
  }
  await redriveOne(target, request.deadLetterTopic, entry);
}

/** Redrives every pending dead letter matching `request`, oldest first, at most {@link REDRIVE_ALL_MAX}. */
export async function redriveAll(
  target: Target,
  request: RedriveAllRequest,
  signal: AbortSignal,
): Promise<RedriveAllResult> {
  const filter = { group: request.group || undefined, reason: request.reason || undefined };
  let redriven = 0;
  for (const deadLetterTopic of await deadLetterTopics(target)) {
    for (const entry of await pendingDeadLetters(target, deadLetterTopic, filter, signal)) {
      if (redriven >= REDRIVE_ALL_MAX || signal.aborted) return { redriven, more: true };
      await redriveOne(target, deadLetterTopic, entry);
      redriven++;
    }
  }
  return { redriven, more: false };
}
