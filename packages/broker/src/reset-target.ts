/**
 * Where `resetGroup` moves a group, per partition: the log start, the high watermark, the first
 * record at a timestamp, or an explicit offset inside the stored range.
 */
import type { ResetTarget } from './broker-types.ts';
import { BrokerArgumentError } from './errors.ts';
import type { PartitionLog } from './partition-log.ts';

/**
 * The offset `target` names on partition `partition` (whose log is `log`); `current` is the
 * group's position there, kept by an `offsets` target that does not list the partition. Throws
 * {@link BrokerArgumentError} for a target out of range.
 */
export async function resetOffset(
  topic: string,
  partition: number,
  log: PartitionLog,
  target: ResetTarget,
  current: () => bigint,
): Promise<bigint> {
  switch (target.to) {
    case 'earliest':
      return log.logStartOffset;
    case 'latest':
      return log.highWatermark;
    case 'timestamp':
      if (!Number.isFinite(target.timestampMs)) {
        throw new BrokerArgumentError(`resetGroup: timestampMs ${target.timestampMs} is not a finite number`);
      }
      return (await log.offsetForTimestamp(target.timestampMs)) ?? log.highWatermark;
    case 'offsets': {
      const offset = target.offsets[partition];
      if (offset === undefined) return current();
      if (typeof offset !== 'bigint' || offset < log.logStartOffset || offset > log.highWatermark) {
        throw new BrokerArgumentError(
          `resetGroup: offset ${String(offset)} of ${topic}/${partition} is outside the stored range ` +
            `${log.logStartOffset}..${log.highWatermark}; pick an offset in that range`,
        );
      }
      return offset;
    }
    default:
      throw new BrokerArgumentError(
        `resetGroup: unknown target ${JSON.stringify(target)}; use earliest, latest, timestamp or offsets`,
      );
  }
}
