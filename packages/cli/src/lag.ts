/**
 * A group's lag: per partition, the messages not yet consumed and the age of the oldest. Used by
 * `herald groups` and the console's Groups view.
 */
import type { GroupPosition, Target, TopicInfo } from './targets/target.ts';

/** One partition of a group's position with its lag. */
export interface PartitionLag {
  readonly partition: number;
  readonly committed: bigint | undefined;
  readonly end: bigint;
  readonly lag: bigint;
  readonly timeLagMs: number;
}

/** Lag of `position` per partition: messages not yet consumed, and the age of the oldest. */
export async function lagOf(
  target: Target,
  position: GroupPosition,
  info: TopicInfo,
): Promise<PartitionLag[]> {
  const now = Date.now();
  return Promise.all(
    info.partitions.map(async (partition) => {
      const committed = position.committed.get(partition.partition);
      const from =
        committed === undefined || committed < partition.logStartOffset
          ? partition.logStartOffset
          : committed;
      const ahead = BigInt(position.ackedAhead.get(partition.partition) ?? 0);
      let lag = partition.highWatermark - from - ahead;
      if (lag < 0n) lag = 0n;
      let timeLagMs = 0;
      if (lag > 0n) {
        const page = await target.fetch(position.topic, partition.partition, from, 0);
        const oldest = page.records[0];
        if (oldest !== undefined) timeLagMs = Math.max(0, now - oldest.timestampMs);
      }
      return { partition: partition.partition, committed, end: partition.highWatermark, lag, timeLagMs };
    }),
  );
}

/** The total lag of a group on a topic, and the largest time lag of its partitions. */
export function totals(lags: readonly PartitionLag[]): { lag: bigint; timeLagMs: number } {
  return {
    lag: lags.reduce((sum, entry) => sum + entry.lag, 0n),
    timeLagMs: Math.max(0, ...lags.map((entry) => entry.timeLagMs)),
  };
}
