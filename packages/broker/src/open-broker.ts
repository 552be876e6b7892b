/**
 * Opening a broker: checking its options (misconfiguration fails here, before anything is
 * touched), opening the log store under the directory lock, and loading the broker's state.
 */
import path from 'node:path';
import { ConfigurationError } from '@herald/bus';
import { HeraldError } from '@herald/errors';
import { isLogError, LogLockedError, type LogStore, openLogStore } from '@herald/log';
import { Broker } from './broker.ts';
import type { BrokerOptions } from './broker-types.ts';
import { BrokerStorageError, DirectoryLockedError } from './errors.ts';
import { checkPartitionCount } from './topic-catalogue.ts';

/** Opens the broker in `options.dir`. Throws {@link DirectoryLockedError} when another broker holds it. */
export async function openBroker(options: BrokerOptions = {}): Promise<Broker> {
  const directory = path.resolve(options.dir ?? process.env.HERALD_DATA_DIR ?? './.herald');
  const partitions = options.partitions ?? 4;
  checkPartitionCount(partitions, 'openBroker');
  const fsync = options.fsync ?? 'always';
  positive(options.groupWindowRecordsMax ?? 1, 'groupWindowRecordsMax');
  positive(options.groupWindowBytesMax ?? 1, 'groupWindowBytesMax');
  positive(options.fetchBytesMax ?? 1, 'fetchBytesMax');
  positive(options.visibilityTimeoutMs ?? 1, 'visibilityTimeoutMs');
  let store: LogStore;
  try {
    store = await openLogStore({
      directory,
      ...(options.fileSystem === undefined ? {} : { fileSystem: options.fileSystem }),
      partitionDefaults: {
        fsync,
        recordBytesMax: Math.max(options.messageBytesMax ?? 1024 * 1024, 1),
        ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
        ...(options.retentionBytes === undefined ? {} : { retentionBytes: options.retentionBytes }),
        ...(options.segmentBytesMax === undefined ? {} : { segmentBytesMax: options.segmentBytesMax }),
        ...(options.leaderEpoch === undefined ? {} : { leaderEpoch: options.leaderEpoch }),
      },
    });
  } catch (error) {
    if (isLogError(error, 'LOG_LOCKED')) {
      const detail = error.message.replace(/^cannot open log at [^:]*: /, '');
      const pid = error instanceof LogLockedError ? error.pid : undefined;
      throw new DirectoryLockedError(directory, pid, detail, error);
    }
    throw new BrokerStorageError(`cannot open broker at ${directory}: ${(error as Error).message}`, error);
  }
  const broker = new Broker(directory, store, { ...options, partitions, fsync });
  try {
    await broker.load();
  } catch (error) {
    await broker.close().catch(() => {});
    // A failed call of the data directory's file system (found by the storage-fault simulation:
    // readdir of topics/ failing with EIO) is reported typed, like the log's own I/O failures.
    if ((error as NodeJS.ErrnoException | undefined)?.code !== undefined && !(error instanceof HeraldError)) {
      throw new BrokerStorageError(`cannot open broker at ${directory}: ${(error as Error).message}`, error);
    }
    throw error;
  }
  return broker;
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigurationError(`openBroker: ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}
