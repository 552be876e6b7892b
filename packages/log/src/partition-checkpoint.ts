/**
 * The partition checkpoint: a small text file holding the log start offset (raised by retention)
 * and the recovery point (every batch below it was fsynced, so open does not need to validate it
 * again and must treat damage there as corruption, not as a torn tail). Written atomically
 * (tmp + fdatasync + rename + directory fsync) and protected by a CRC line, so a damaged file is
 * detected and ignored (open then validates the whole log) rather than trusted.
 */

import path from 'node:path';
import { crc32c } from './crc32c.ts';
import { ioError, systemErrorCode } from './errors.ts';
import { type FileSystem, writeFileAtomically } from './file-system.ts';

/** File name inside the partition directory. */
export const CHECKPOINT_FILE_NAME = 'partition.checkpoint';

const FORMAT_LINE = 'herald-log-checkpoint 1';

/** What the checkpoint records. */
export interface PartitionCheckpoint {
  /** First offset still stored; lower offsets were deleted by retention. */
  readonly logStartOffset: bigint;
  /** Every batch below this offset is durable (fsynced). */
  readonly recoveryPoint: bigint;
  /** Byte position of the recovery point inside the segment that contains it. */
  readonly recoveryPointPosition: number;
}

function body(checkpoint: PartitionCheckpoint): string {
  return (
    `${FORMAT_LINE}\nlog-start-offset ${checkpoint.logStartOffset}\n` +
    `recovery-point ${checkpoint.recoveryPoint}\nrecovery-point-position ${checkpoint.recoveryPointPosition}\n`
  );
}

/** Writes the checkpoint of the partition in `directory` atomically. */
export async function writePartitionCheckpoint(
  fileSystem: FileSystem,
  directory: string,
  checkpoint: PartitionCheckpoint,
): Promise<void> {
  const text = body(checkpoint);
  const bytes = new TextEncoder().encode(
    `${text}crc32c ${crc32c(new TextEncoder().encode(text)).toString(16)}\n`,
  );
  try {
    await writeFileAtomically(fileSystem, directory, path.join(directory, CHECKPOINT_FILE_NAME), bytes);
  } catch (error) {
    throw ioError(`cannot write checkpoint in ${directory}`, error);
  }
}

/**
 * Reads the checkpoint. Resolves `undefined` when the file does not exist (a new partition), and a
 * string describing the damage when it exists but cannot be trusted.
 */
export async function readPartitionCheckpoint(
  fileSystem: FileSystem,
  directory: string,
): Promise<PartitionCheckpoint | string | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fileSystem.readFile(path.join(directory, CHECKPOINT_FILE_NAME));
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') {
      return undefined;
    }
    throw ioError(`cannot read checkpoint in ${directory}`, error);
  }
  const text = new TextDecoder().decode(bytes);
  const match =
    /^herald-log-checkpoint 1\nlog-start-offset (\d+)\nrecovery-point (\d+)\nrecovery-point-position (\d+)\ncrc32c ([0-9a-f]+)\n$/.exec(
      text,
    );
  if (match === null) {
    return 'checkpoint file is not in the expected format';
  }
  const checkpoint: PartitionCheckpoint = {
    logStartOffset: BigInt(match[1]!),
    recoveryPoint: BigInt(match[2]!),
    recoveryPointPosition: Number(match[3]!),
  };
  if (crc32c(new TextEncoder().encode(body(checkpoint))).toString(16) !== match[4]) {
    return 'checkpoint CRC does not match its content';
  }
  return checkpoint;
}
