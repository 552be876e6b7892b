/**
 * A consumer group's stored position on one topic: per partition, the committed offset (the next
 * offset the group has not finished; everything below it is acked) and the offsets above it that
 * were acked individually while a lower one was still unfinished. Keeping those "acked ahead"
 * offsets is what lets a restarted broker redeliver only the unacked messages: the committed
 * offset itself never passes an unacked message.
 *
 * File: `<data dir>/groups/<topic>/<group>.offsets`, JSON plus a CRC line, replaced atomically.
 */
import path from 'node:path';
import { readChecked, writeChecked } from './atomic-file.ts';
import { BrokerCorruptError } from './errors.ts';

/** One partition's stored position. */
export interface PartitionPosition {
  /** Next offset not yet acked; every lower offset is acked. */
  readonly committed: bigint;
  /** Offsets at or above `committed` that are acked, ascending. */
  readonly ackedAhead: readonly bigint[];
}

/** A group's stored position on a topic, indexed by partition. */
export type GroupPosition = ReadonlyMap<number, PartitionPosition>;

const FORMAT = 1;

/** Path of the offsets file of `group` on `topic`. */
export function groupOffsetsFile(dataDirectory: string, topic: string, group: string): string {
  return path.join(dataDirectory, 'groups', topic, `${group}.offsets`);
}

/** Encodes ascending offsets as inclusive `[first, last]` decimal ranges. */
function toRanges(offsets: readonly bigint[]): [string, string][] {
  const ranges: [string, string][] = [];
  let first: bigint | undefined;
  let last = 0n;
  for (const offset of offsets) {
    if (first !== undefined && offset === last + 1n) {
      last = offset;
      continue;
    }
    if (first !== undefined) ranges.push([String(first), String(last)]);
    first = offset;
    last = offset;
  }
  if (first !== undefined) ranges.push([String(first), String(last)]);
  return ranges;
}

/** Writes the position durably (unless `durable` is false). */
export async function writeGroupPosition(
  file: string,
  topic: string,
  group: string,
  position: GroupPosition,
  durable: boolean,
): Promise<void> {
  const partitions = [...position].map(([partition, { committed, ackedAhead }]) => ({
    partition,
    committed: String(committed),
    ackedAhead: toRanges(ackedAhead),
  }));
  await writeChecked(file, { format: FORMAT, topic, group, partitions }, durable);
}

/** Largest number of acked-ahead offsets one partition may list; more means a damaged file. */
const ACKED_AHEAD_MAX = 1_000_000;

/** Reads a stored position; resolves an empty map when the group never stored one. */
export async function readGroupPosition(file: string): Promise<GroupPosition> {
  const value = (await readChecked(file)) as {
    format?: unknown;
    partitions?: { partition: number; committed: string; ackedAhead: [string, string][] }[];
  };
  const position = new Map<number, PartitionPosition>();
  if (value === undefined) return position;
  const damaged = (why: string) =>
    new BrokerCorruptError(`${file}: ${why}; remove the file to restart the group from the earliest message`);
  if (value.format !== FORMAT || !Array.isArray(value.partitions)) throw damaged('unknown format');
  for (const entry of value.partitions) {
    const committed = BigInt(entry.committed);
    const ackedAhead: bigint[] = [];
    for (const [first, last] of entry.ackedAhead) {
      for (let offset = BigInt(first); offset <= BigInt(last); offset++) {
        if (offset < committed || ackedAhead.length >= ACKED_AHEAD_MAX)
          throw damaged('acked ranges out of bounds');
        ackedAhead.push(offset);
      }
    }
    position.set(entry.partition, { committed, ackedAhead });
  }
  return position;
}
