/**
 * Where to start or stop reading, as users write it: kcat's `-o beginning|end|N|-N|s@ms|e@ms`
 * (and Herald's `@TIME`, which also takes ISO 8601),
 * `groups reset --to earliest|latest|offset:N|time:ISO`, replay's `--from`/`--until`. Each
 * parses to a {@link Position} and resolves per partition against the target.
 */
import { UsageError } from './errors.ts';
import type { PartitionInfo, Target } from './targets/target.ts';

/** A position in every partition of a topic. */
export type Position =
  | { readonly kind: 'beginning' }
  | { readonly kind: 'end' }
  /** The same absolute offset in every partition (clamped to what is stored). */
  | { readonly kind: 'offset'; readonly offset: bigint }
  /** `count` records before the end of each partition. */
  | { readonly kind: 'fromEnd'; readonly count: bigint }
  /** The first record at or after the time (the end where every record is older). */
  | { readonly kind: 'time'; readonly timestampMs: number };

/** Milliseconds since the epoch, or an ISO 8601 date-time. */
export function parseTime(text: string, flag: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) {
    throw new UsageError(
      `${flag}: "${text}" is not a time; use milliseconds since 1970 or ISO 8601 (2025-01-31T12:00:00Z)`,
    );
  }
  return parsed;
}

/** Parses kcat's `-o` start values, `s@TIME` included (also `earliest`/`latest`, `@TIME`, `offset:N` and `time:ISO`). */
export function parsePosition(text: string, flag: string): Position {
  if (text === 'beginning' || text === 'earliest') return { kind: 'beginning' };
  if (text === 'end' || text === 'latest') return { kind: 'end' };
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: BigInt(text) };
  if (/^offset:\d+$/.test(text)) return { kind: 'offset', offset: BigInt(text.slice('offset:'.length)) };
  if (/^-\d+$/.test(text)) return { kind: 'fromEnd', count: BigInt(text.slice(1)) };
  if (text.startsWith('@')) return { kind: 'time', timestampMs: parseTime(text.slice(1), flag) };
  if (text.startsWith('s@')) return { kind: 'time', timestampMs: parseTime(text.slice(2), flag) };
  if (text.startsWith('time:'))
    return { kind: 'time', timestampMs: parseTime(text.slice('time:'.length), flag) };
  throw new UsageError(
    `${flag}: "${text}" is not a position; use beginning, end, an offset N, -N (N before the end), ` +
      's@TIME or @TIME (ms or ISO 8601), offset:N or time:ISO',
  );
}

/** What kcat's `-o` options say together: where to start, and the timestamp to stop at (`e@`). */
export interface OffsetOptions {
  readonly start: Position;
  /** Stop each partition at its first record at or after this time (kcat `-o e@ms`, not included). */
  readonly endTimestampMs: number | undefined;
}

/**
 * Parses every `-o` given, as kcat does: `-o s@T -o e@T` starts at one time and stops at another;
 * `e@` combines with any start; with two starts the last one wins (kcat's rule).
 */
export function parseOffsetOptions(texts: readonly string[], flag: string): OffsetOptions {
  let start: Position = { kind: 'beginning' };
  let endTimestampMs: number | undefined;
  for (const text of texts) {
    if (text.startsWith('e@')) endTimestampMs = parseTime(text.slice(2), `${flag} e@`);
    else start = parsePosition(text, flag);
  }
  return { start, endTimestampMs };
}

/** The offset `position` means in `partition`, always within the stored range. */
export async function resolvePosition(
  target: Target,
  topic: string,
  partition: PartitionInfo,
  position: Position,
): Promise<bigint> {
  const { logStartOffset: start, highWatermark: end } = partition;
  const clamp = (offset: bigint) => (offset < start ? start : offset > end ? end : offset);
  switch (position.kind) {
    case 'beginning':
      return start;
    case 'end':
      return end;
    case 'offset':
      return clamp(position.offset);
    case 'fromEnd':
      return clamp(end - position.count);
    case 'time':
      return clamp(
        (await target.offsetForTimestamp(topic, partition.partition, position.timestampMs)) ?? end,
      );
  }
}
