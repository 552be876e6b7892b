/**
 * Checking Kafka-style commits before they are stored. As Kafka, any 64-bit offset is accepted,
 * negative ones and ones past the log's end too (clients commit -1 and -2 to mean "reset to
 * latest" and "to earliest", and a commit is the client's claim, not the broker's state): these
 * are client input, refused with {@link BrokerArgumentError}, never broker invariants.
 */
import { BrokerArgumentError } from './errors.ts';
import type { CommittedOffset } from './position-journal.ts';

/** Longest commit metadata {@link Broker.commitOffsets} stores, in UTF-8 bytes. */
export const COMMIT_METADATA_BYTES_MAX = 1024 * 1024;

/**
 * Most bytes the committed offsets of one group on one topic take stored (an estimate: metadata
 * bytes plus 64 per partition), so journal records and compaction stay bounded. 32 MiB holds a
 * commit on every partition of a topic (at most 1024) with the Kafka server's longest metadata
 * (4096 characters, at most 16 KiB in UTF-8).
 */
export const COMMITS_BYTES_MAX = 32 * 1024 * 1024;
/** Estimated stored bytes of one commit besides its metadata (partition, offset, JSON framing). */
const COMMIT_OVERHEAD_BYTES = 64;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The commits of a `commitOffsets` call in stored form (a bare offset has null metadata); throws
 * {@link BrokerArgumentError} for a partition outside `0..partitions - 1`, an offset that is not
 * a 64-bit bigint, or metadata that is not a string of at most {@link COMMIT_METADATA_BYTES_MAX}
 * bytes.
 */
export function checkedCommits(
  topic: string,
  partitions: number,
  offsets: ReadonlyMap<number, bigint | CommittedOffset>,
): Map<number, CommittedOffset> {
  const commits = new Map<number, CommittedOffset>();
  for (const [partition, entry] of offsets) {
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
      throw new BrokerArgumentError(`commitOffsets: ${topic} has no partition ${partition}`);
    }
    const commit = typeof entry === 'bigint' ? { offset: entry, metadata: null } : entry;
    if (typeof commit.offset !== 'bigint' || commit.offset < INT64_MIN || commit.offset > INT64_MAX) {
      throw new BrokerArgumentError(`commitOffsets: offset ${String(commit.offset)} is not a 64-bit bigint`);
    }
    if (
      commit.metadata !== null &&
      (typeof commit.metadata !== 'string' || Buffer.byteLength(commit.metadata) > COMMIT_METADATA_BYTES_MAX)
    ) {
      throw new BrokerArgumentError(
        `commitOffsets: metadata of partition ${partition} must be null or a string of at most ${COMMIT_METADATA_BYTES_MAX} bytes`,
      );
    }
    commits.set(partition, { offset: commit.offset, metadata: commit.metadata });
  }
  return commits;
}

/**
 * Throws {@link BrokerArgumentError} when `merged`, the commits of `group` on `topic` once a
 * commit is applied, would take more than {@link COMMITS_BYTES_MAX} stored.
 */
export function checkCommitsSize(
  topic: string,
  group: string,
  merged: ReadonlyMap<number, CommittedOffset>,
): void {
  let bytes = 0;
  for (const { metadata } of merged.values()) {
    bytes += COMMIT_OVERHEAD_BYTES + (metadata === null ? 0 : Buffer.byteLength(metadata));
  }
  if (bytes > COMMITS_BYTES_MAX) {
    throw new BrokerArgumentError(
      `commitOffsets: the committed offsets of "${group}" on "${topic}" would take about ${bytes} bytes, ` +
        `over the ${COMMITS_BYTES_MAX}-byte bound per group and topic; commit shorter metadata`,
    );
  }
}
