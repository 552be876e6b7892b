/**
 * Which embedded (bus) groups have positions in a data directory. The broker's public API
 * describes and resets a group by name but cannot list groups, so this reads the group names
 * from the positions journal, whose format the broker README documents ("On-disk layout"). Only
 * names come from here; positions themselves are read through `Broker.describeGroup`. If the
 * journal's format changes, listing degrades to a warning instead of failing the command.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';

/** The journal file of a data directory (broker README). */
const JOURNAL_FILE = 'group-positions.log';
const HEADER_BYTES = 8;
/** Bound on the records read, so a damaged file cannot keep the CLI busy. */
const RECORDS_MAX = 1_000_000;

/** Topic → embedded group names with a stored position, or a reason the journal was not read. */
export async function embeddedGroupNames(
  directory: string,
): Promise<{ groups: Map<string, Set<string>>; warning: string | undefined }> {
  const groups = new Map<string, Set<string>>();
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path.join(directory, JOURNAL_FILE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { groups, warning: undefined };
    return { groups, warning: `cannot read ${JOURNAL_FILE}: ${(error as Error).message}` };
  }
  let at = 0;
  for (let count = 0; count < RECORDS_MAX && at + HEADER_BYTES <= bytes.byteLength; count++) {
    const length = bytes.readUInt32BE(at);
    const end = at + HEADER_BYTES + length;
    if (length === 0 || end > bytes.byteLength) break; // a torn tail, as the broker treats it
    const payload = bytes.subarray(at + HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32BE(at + 4)) break;
    let record: { ops?: unknown };
    try {
      record = JSON.parse(payload.toString('utf8')) as { ops?: unknown };
    } catch {
      return {
        groups,
        warning: `${JOURNAL_FILE} is not in the format this CLI reads; embedded groups not listed`,
      };
    }
    if (!Array.isArray(record.ops)) {
      return {
        groups,
        warning: `${JOURNAL_FILE} is not in the format this CLI reads; embedded groups not listed`,
      };
    }
    for (const op of record.ops as { topic?: unknown; group?: unknown; deleted?: unknown }[]) {
      if (typeof op.topic !== 'string') continue;
      if (op.deleted === true) groups.delete(op.topic);
      else if (typeof op.group === 'string') {
        let names = groups.get(op.topic);
        if (names === undefined) {
          names = new Set();
          groups.set(op.topic, names);
        }
        names.add(op.group);
      }
    }
    at = end;
  }
  return { groups, warning: undefined };
}
