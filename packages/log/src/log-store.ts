/**
 * A data directory holding many partitions as `<directory>/<topic>-<partition>/`, under one
 * directory lock. Each open partition's own lock is a hard link to the store's lock file, so
 * opening one creates no file, and a process opening a partition directory directly still finds
 * it locked (directory-lock.ts). It only manages directories and open handles; topics, partition counts and
 * consumer groups belong to the broker built on top.
 */

import path from 'node:path';
import { acquireDirectoryLock, type DirectoryLock } from './directory-lock.ts';
import { ioError, LogError, systemErrorCode } from './errors.ts';
import { type FileSystem, nodeFileSystem, syncDirectory } from './file-system.ts';
import { openLockedPartition, type Partition } from './partition.ts';
import type { PartitionOptions } from './partition-options.ts';
import { syncRounds } from './sync-rounds.ts';

/** Identifies a partition inside a store. */
export interface PartitionName {
  /** Topic: 1-249 characters of `[a-zA-Z0-9._-]`, not `.` or `..` (Kafka's rule). */
  readonly topic: string;
  /** Partition number, 0 to 2^31 - 1. */
  readonly partition: number;
}

/** Options of {@link openLogStore}. */
export interface LogStoreOptions {
  /** Data directory; created if missing and locked while open. */
  readonly directory: string;
  /** Options applied to every partition (the directory is chosen by the store). */
  readonly partitionDefaults?: Omit<PartitionOptions, 'directory'>;
  /** File system; tests inject failures here. */
  readonly fileSystem?: FileSystem;
}

/** An open store. */
export interface LogStore {
  /** The data directory. */
  readonly directory: string;
  /**
   * Opens (creating if needed) a partition, or returns the instance already open. `overrides`
   * apply on first open only.
   */
  openPartition(name: PartitionName, overrides?: Omit<PartitionOptions, 'directory'>): Promise<Partition>;
  /** The open instance of a partition, if any. */
  getPartition(name: PartitionName): Partition | undefined;
  /** Every partition directory present on disk, sorted by topic then partition. */
  listPartitions(): Promise<PartitionName[]>;
  /** Closes the partition if open and removes its directory and data. */
  deletePartition(name: PartitionName): Promise<void>;
  /** Closes every open partition and releases the store lock. Idempotent. */
  close(): Promise<void>;
}

/**
 * Most partitions of a store opening at once; later opens wait their turn, in call order. Opening
 * an uncleanly closed partition validates its log through a scan window of up to 1 MiB, so a
 * broker recovering 400 partitions together held 400 MiB of windows at once (and the file system
 * is served by libuv's four threads, so more at once is not faster). The wait queue holds at most
 * one entry per partition directory, since a partition already opening is not opened again.
 */
export const PARTITIONS_OPENING_MAX = 16;

const TOPIC_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;
const PARTITION_DIRECTORY_PATTERN = /^([a-zA-Z0-9._-]{1,249})-(\d{1,10})$/;

function directoryName(name: PartitionName): string {
  const { topic, partition } = name ?? {};
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic) || topic === '.' || topic === '..') {
    throw new LogError(
      'LOG_INVALID_ARGUMENT',
      `topic ${JSON.stringify(topic)} is not a valid topic name; use 1-249 characters of letters, digits, '.', '_' and '-'`,
    );
  }
  if (!Number.isInteger(partition) || partition < 0 || partition > 0x7fffffff) {
    throw new LogError('LOG_INVALID_ARGUMENT', `partition ${partition} is not an integer from 0 to 2^31 - 1`);
  }
  return `${topic}-${partition}`;
}

/** Opens (creating if needed) a store in `options.directory`; throws `LOG_LOCKED` if another process has it. */
export async function openLogStore(options: LogStoreOptions): Promise<LogStore> {
  const fileSystem = options.fileSystem ?? options.partitionDefaults?.fileSystem ?? nodeFileSystem;
  const directory = options.directory;
  const lock: DirectoryLock = await acquireDirectoryLock(directory, { fileSystem });
  // The store's partitions fdatasync in shared rounds (sync-rounds.ts): fewer, fuller syncs.
  const partitionFileSystem = syncRounds(fileSystem);
  const open = new Map<string, Promise<Partition>>();
  const instances = new Map<string, Partition>();
  let closing: Promise<void> | undefined;
  let openingCount = 0;
  const openingTurns: (() => void)[] = [];
  const takeTurn = async (): Promise<void> => {
    if (openingCount < PARTITIONS_OPENING_MAX) {
      openingCount++;
      return;
    }
    // The finishing open hands its turn over directly, so the count stays at the bound.
    await new Promise<void>((resolve) => openingTurns.push(resolve));
  };
  const endTurn = (): void => {
    const next = openingTurns.shift();
    if (next === undefined) openingCount--;
    else next();
  };
  const openInTurn = async (partitionOptions: PartitionOptions): Promise<Partition> => {
    await takeTurn();
    try {
      return await openLockedPartition(partitionOptions, lock.path);
    } finally {
      endTurn();
    }
  };

  const refuseIfClosed = (): void => {
    if (closing !== undefined) {
      throw new LogError('LOG_CLOSED', `log store ${directory} is closed; open it again with openLogStore()`);
    }
  };

  return {
    directory,
    openPartition(name, overrides) {
      refuseIfClosed();
      const key = directoryName(name);
      let opening = open.get(key);
      if (opening === undefined) {
        opening = openInTurn({
          ...options.partitionDefaults,
          ...overrides,
          fileSystem: partitionFileSystem,
          directory: path.join(directory, key),
        }).then(
          (partition) => {
            instances.set(key, partition);
            return partition;
          },
          (error: unknown) => {
            open.delete(key);
            throw error;
          },
        );
        open.set(key, opening);
      }
      return opening;
    },
    getPartition(name) {
      return instances.get(directoryName(name));
    },
    async listPartitions() {
      refuseIfClosed();
      let names: string[];
      try {
        names = await fileSystem.readdir(directory);
      } catch (error) {
        throw ioError(`cannot list log store ${directory}`, error);
      }
      const found: PartitionName[] = [];
      for (const entry of names) {
        const match = PARTITION_DIRECTORY_PATTERN.exec(entry);
        if (match !== null) {
          found.push({ topic: match[1]!, partition: Number(match[2]!) });
        }
      }
      return found.sort((left, right) =>
        left.topic === right.topic ? left.partition - right.partition : left.topic < right.topic ? -1 : 1,
      );
    },
    async deletePartition(name) {
      refuseIfClosed();
      const key = directoryName(name);
      const opening = open.get(key);
      open.delete(key);
      instances.delete(key);
      if (opening !== undefined) {
        await (await opening.catch(() => undefined))?.close().catch(() => {});
      }
      const target = path.join(directory, key);
      // Rename first so a crash mid-delete never leaves a half-deleted partition that looks live.
      const doomed = path.join(directory, `${key}.${Date.now()}.deleted`);
      try {
        await fileSystem.rename(target, doomed);
      } catch (error) {
        if (systemErrorCode(error) === 'ENOENT') {
          return;
        }
        throw ioError(`cannot delete partition ${target}`, error);
      }
      try {
        await syncDirectory(fileSystem, directory);
        await fileSystem.removeTree(doomed);
      } catch (error) {
        throw ioError(`cannot delete partition ${target}`, error);
      }
    },
    close() {
      closing ??= (async () => {
        const errors: unknown[] = [];
        for (const opening of open.values()) {
          const partition = await opening.catch(() => undefined);
          await partition?.close().catch((error: unknown) => errors.push(error));
        }
        open.clear();
        instances.clear();
        await lock.release();
        if (errors.length > 0) {
          throw errors[0];
        }
      })();
      return closing;
    },
  };
}
