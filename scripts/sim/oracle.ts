/**
 * What the simulation checks, shared by both subjects: typed errors, and the rule for a bit flip
 * (where a flip may legitimately cost acknowledged records and where it must be detected).
 */
import path from 'node:path';
import { HeraldError, InvariantError } from '@herald/errors';
import type { SimDisk } from './sim-disk.ts';

/** A broken invariant: the simulation stops the seed and shrinks its history. */
export class Violation extends Error {
  override readonly name = 'Violation';
}

/**
 * The stable code of an error the code under test threw on purpose; a {@link Violation} for
 * anything else (a plain Error, an InvariantError: a bug either way).
 */
export function typedCode(error: unknown, during: string): string {
  if (error instanceof InvariantError || !(error instanceof HeraldError)) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Violation(`${during} failed with an untyped error: ${text}`);
  }
  const reason = (error as { reason?: unknown }).reason;
  const code = typeof reason === 'string' ? `${error.code}/${reason}` : error.code;
  // The broker wraps the log's errors: the log's code says what happened underneath.
  return error.cause instanceof HeraldError ? `${code}<${error.cause.code}` : code;
}

/** Whether a code says the storage is corrupt (detected damage). */
export function isCorruption(code: string): boolean {
  return code.includes('LOG_CORRUPT') || code.includes('BROKER_CORRUPT');
}

/** A bit flipped in a segment, with what recovery knew about that partition when it happened. */
export interface SegmentFlip {
  readonly directory: string;
  /** The flip is in the active (last) segment at or above the checkpointed recovery position. */
  readonly aboveRecoveryPoint: boolean;
}

/**
 * Classifies a flip at `position` of `file`: only damage in the active segment above the recovery
 * point may be cut off as a torn tail (the log cannot tell it from one); anything below it or in
 * a rolled segment must be reported as corruption.
 */
export function classifyFlip(disk: SimDisk, file: string, position: number): SegmentFlip {
  const directory = path.dirname(file);
  // Metadata files are checksummed whole, and every acknowledged round of the group-position
  // journal is followed by a durable commit marker: damage there is detected, or it hit bytes
  // nobody was told were stored (a torn tail, the last marker) and costs nothing acknowledged.
  if (!file.endsWith('.log') || path.basename(file) === 'group-positions.log') {
    return { directory, aboveRecoveryPoint: false };
  }
  const segments = disk.files().filter((at) => path.dirname(at) === directory && at.endsWith('.log'));
  const active = segments[segments.length - 1] === file;
  const checkpoint = disk.readNow(path.join(directory, 'partition.checkpoint'));
  const match =
    checkpoint === undefined
      ? null
      : /recovery-point-position (\d+)\n/.exec(new TextDecoder().decode(checkpoint));
  // Without a (readable) checkpoint, open validates the active segment from its start.
  const recoveryPosition = match === null ? 0 : Number(match[1]);
  return { directory, aboveRecoveryPoint: active && position >= recoveryPosition };
}
