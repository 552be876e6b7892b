/**
 * Group files of older brokers, read once to migrate them into the group-position journal:
 *
 * - `groups/<topic>/<group>.offsets`: one `subscribe` group's acked position (brokers before the
 *   journal);
 * - `groups/<topic>/<group>.commits`: one group's Kafka-style committed offsets with their
 *   metadata (brokers before committed offsets moved into the journal).
 *
 * Both are JSON with a CRC line (atomic-file.ts). The store migrates in a crash-safe order: it
 * writes the journal with their content and fsyncs it, then removes the files and fsyncs their
 * directories. A crash in between leaves both; the next open migrates again and, because the
 * journal is newer than any file it replaced, keeps the journal's position where it has one, so
 * re-running gives the same result.
 */
import path from 'node:path';
import { assertName } from '@herald/bus/internal';
import type { FileSystem } from '@herald/log';
import { readChecked, removeFile, syncDirectory } from './atomic-file.ts';
import { BrokerCorruptError } from './errors.ts';
import {
  type CommittedOffset,
  fromStored,
  type GroupPosition,
  type StoredPartition,
  toStored,
} from './position-journal.ts';

const OFFSETS_SUFFIX = '.offsets';
const COMMITS_SUFFIX = '.commits';
const OFFSETS_FORMAT = 1;
const COMMITS_FORMAT = 1;

/** What the legacy files of a data directory hold. */
export interface LegacyGroupFiles {
  readonly positions: {
    readonly topic: string;
    readonly group: string;
    readonly partitions: StoredPartition[];
  }[];
  readonly commits: {
    readonly topic: string;
    readonly group: string;
    readonly commits: Map<number, CommittedOffset>;
  }[];
  /** Every file read, to remove once the journal holds their content durably. */
  readonly files: string[];
}

/** Directory of a topic's legacy group files. */
function topicDirectory(dataDirectory: string, topic: string): string {
  return path.join(dataDirectory, 'groups', topic);
}

/** Reads the legacy group files of `topics` (files of other topics belong to deleted topics). */
export async function readLegacyGroupFiles(
  fileSystem: FileSystem,
  dataDirectory: string,
  topics: ReadonlySet<string>,
): Promise<LegacyGroupFiles> {
  const found: LegacyGroupFiles = { positions: [], commits: [], files: [] };
  for (const topic of topics) {
    let names: string[];
    try {
      names = await fileSystem.readdir(topicDirectory(dataDirectory, topic));
    } catch {
      continue; // no legacy files for this topic
    }
    for (const name of names.sort()) {
      const file = path.join(topicDirectory(dataDirectory, topic), name);
      if (name.endsWith(OFFSETS_SUFFIX)) {
        const group = name.slice(0, -OFFSETS_SUFFIX.length);
        const partitions = await readOffsetsFile(fileSystem, file);
        if (partitions !== undefined) found.positions.push({ topic, group, partitions });
        found.files.push(file);
      } else if (name.endsWith(COMMITS_SUFFIX)) {
        const group = name.slice(0, -COMMITS_SUFFIX.length);
        if (!isGroupName(group)) continue; // not a file commitOffsets wrote: left alone
        const commits = await readCommitsFile(fileSystem, file);
        if (commits !== undefined) found.commits.push({ topic, group, commits });
        found.files.push(file);
      }
    }
  }
  return found;
}

/**
 * Removes migrated files, makes the removals durable (so a deletion of the migrated positions
 * cannot be undone by a file a crash brought back), then removes the directories left empty.
 */
export async function removeLegacyGroupFiles(
  fileSystem: FileSystem,
  files: readonly string[],
  durable: boolean,
): Promise<void> {
  if (files.length === 0) return;
  await Promise.all(files.map((file) => removeFile(fileSystem, file)));
  const directories = [...new Set(files.map((file) => path.dirname(file)))];
  if (durable) await Promise.all(directories.map((directory) => syncDirectory(fileSystem, directory)));
  // Only empty directories go (`groups/<topic>/`, then `groups/`): a stray file of the user's
  // keeps its directory.
  for (const directory of directories) await removeIfEmpty(fileSystem, directory);
  for (const parent of new Set(directories.map((directory) => path.dirname(directory)))) {
    await removeIfEmpty(fileSystem, parent);
  }
}

/** Removes `directory` if it holds nothing; any failure leaves it (it is only tidying up). */
async function removeIfEmpty(fileSystem: FileSystem, directory: string): Promise<void> {
  try {
    if ((await fileSystem.readdir(directory)).length === 0) await fileSystem.removeTree(directory);
  } catch {
    // Left for the next open.
  }
}

function isGroupName(name: string): boolean {
  try {
    assertName(name, 'group', 'open');
    return true;
  } catch {
    return false;
  }
}

/** An `.offsets` file's position in journal form (undefined: the file vanished). */
async function readOffsetsFile(fileSystem: FileSystem, file: string): Promise<StoredPartition[] | undefined> {
  const value = (await readChecked(fileSystem, file)) as
    | { format?: unknown; partitions?: unknown }
    | undefined;
  if (value === undefined) return undefined;
  const damaged = (why: string) =>
    new BrokerCorruptError(`${file}: ${why}; remove the file to restart the group from the earliest message`);
  if (value.format !== OFFSETS_FORMAT) throw damaged('unknown format');
  const position: GroupPosition = fromStored(value.partitions, damaged);
  return toStored(position);
}

/**
 * A `.commits` file's commits (undefined: the file vanished). `metadata` lists only partitions
 * committed with metadata; files of brokers before it have none, and those read back null.
 */
async function readCommitsFile(
  fileSystem: FileSystem,
  file: string,
): Promise<Map<number, CommittedOffset> | undefined> {
  const value = await readChecked(fileSystem, file);
  if (value === undefined) return undefined;
  const stored = value as { format?: unknown; offsets?: unknown; metadata?: unknown };
  const damaged = () =>
    new BrokerCorruptError(
      `${file} is not a commits file this broker reads; remove it to forget the offsets`,
    );
  if (stored.format !== COMMITS_FORMAT || typeof stored.offsets !== 'object' || stored.offsets === null) {
    throw damaged();
  }
  const metadata = (stored.metadata ?? {}) as Record<string, unknown>;
  if (typeof metadata !== 'object' || metadata === null) throw damaged();
  const commits = new Map<number, CommittedOffset>();
  for (const [partition, offset] of Object.entries(stored.offsets as Record<string, unknown>)) {
    const text = metadata[partition];
    if ((text !== undefined && typeof text !== 'string') || typeof offset !== 'string') throw damaged();
    let parsed: bigint;
    try {
      parsed = BigInt(offset);
    } catch {
      throw damaged();
    }
    if (!/^\d+$/.test(partition)) throw damaged();
    commits.set(Number(partition), { offset: parsed, metadata: text ?? null });
  }
  return commits;
}
