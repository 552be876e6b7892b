/**
 * The event store on Herald's embedded log (`@herald/log`). Design (README.md, "Embedded layout"):
 *
 * - One partition holds every stream: the log offset is the global position, so `readAll` and
 *   category subscriptions are sequential reads and the global order is the commit order.
 * - An append is one RecordBatch, written whole or not at all: the log's recovery truncates a torn
 *   tail batch by its CRC, so a crash never leaves half an append, and a version is never skipped.
 * - Each record carries its stream (the key) and its version (a header). The stream index (stream
 *   to positions) lives in memory and is rebuilt by a scan on open; there is nothing else on disk
 *   to keep consistent with the log.
 * - Appends are acknowledged after the log's fsync (`fsync: 'always'` by default). The version
 *   check and reservation happen synchronously before the batch enters the log's queue, so
 *   concurrent appends share fsyncs (group commit) without racing on a version.
 */
import { ConfigurationError, type EventContract, TransportError } from '@herald/bus';
import {
  type FsyncPolicy,
  type LogRecord,
  openPartition,
  type Partition,
  type RecordInput,
} from '@herald/log';
import type { StoreBackend } from './backend.ts';
import type { EncodedEvent, StoredEvent } from './codec.ts';
import { WrongExpectedVersionError } from './errors.ts';
import { StoreCore } from './store-core.ts';
import { StreamIndex } from './stream-index.ts';
import type { AppendResult, EventStore, ExpectedVersion } from './types.ts';

/** Options of {@link openEmbeddedEventStore}. */
export interface EmbeddedEventStoreOptions {
  /** Directory of the store's log; created if missing and locked while open (one process at a time). */
  readonly directory: string;
  /** Contracts whose events reads upcast (contracts appended through this store are known anyway). */
  readonly contracts?: readonly EventContract[];
  /**
   * When an append is acknowledged: `'always'` (default) after its fsync; `{ intervalMs }` or
   * `'never'` trade the last appends on a power loss (not on a process crash) for speed.
   */
  readonly fsync?: FsyncPolicy;
  /** Segment size of the log (default 1 GiB). */
  readonly segmentBytesMax?: number;
}

/** Bytes one `readAll` log read fetches (whole batches; at least one even when larger). */
const READ_BYTES = 256 * 1024;

/**
 * Bytes one `readStream` log read fetches: a stream's events are scattered among other streams',
 * so each read should decode little beyond the batch that holds the wanted position (the log
 * returns that whole batch however small this is).
 */
const STREAM_READ_BYTES = 1;

const decoder = new TextDecoder();

function header(record: LogRecord, name: string): string {
  for (const [key, value] of record.headers) {
    if (key === name && value !== null) return decoder.decode(value);
  }
  throw new TransportError(
    `event store log: record at position ${record.offset} has no "${name}" header; the directory holds ` +
      'something other than an event store, open the right directory',
  );
}

function toStored(record: LogRecord): StoredEvent {
  return {
    id: header(record, 'id'),
    stream: decoder.decode(record.key ?? new Uint8Array()),
    version: Number(header(record, 'version')),
    position: record.offset,
    type: header(record, 'type'),
    schemaVersion: Number(header(record, 'schema-version')),
    data: decoder.decode(record.value ?? new Uint8Array()),
    metadata: header(record, 'metadata'),
    recordedAtMs: record.timestampMs,
  };
}

/** The embedded backend: one log partition and the in-memory stream index. */
class EmbeddedBackend implements StoreBackend {
  readonly name = 'embedded';
  readonly #partition: Partition;
  readonly #index: StreamIndex;
  #failure: Error | undefined;
  /** Per stream, the last append not yet acknowledged (removed once it settles). */
  readonly #inFlight = new Map<string, Promise<unknown>>();

  constructor(partition: Partition, index: StreamIndex) {
    this.#partition = partition;
    this.#index = index;
  }

  async append(
    stream: string,
    events: readonly EncodedEvent[],
    expected: ExpectedVersion,
  ): Promise<AppendResult> {
    if (this.#failure !== undefined) {
      throw new TransportError(
        `event store: an earlier append failed (${this.#failure.message}); close the store and open it again`,
        { cause: this.#failure },
      );
    }
    let first: number;
    try {
      first = this.#index.reserve(stream, expected, events.length);
    } catch (error) {
      // A conflict with an append still in flight: report it once that append is readable, so
      // the caller's next read sees the version it lost to (otherwise a retry loop would spin on
      // the old version until the fsync).
      const pending = this.#inFlight.get(stream);
      if (!(error instanceof WrongExpectedVersionError) || pending === undefined) throw error;
      await pending.catch(() => {});
      throw new WrongExpectedVersionError(
        stream,
        expected,
        Math.max(error.actualVersion, this.#index.version(stream)),
      );
    }
    const now = Date.now();
    const records: RecordInput[] = events.map((event, index) => ({
      key: Buffer.from(stream),
      value: Buffer.from(event.data),
      timestampMs: now,
      headers: [
        ['id', event.id],
        ['type', event.type],
        ['schema-version', String(event.schemaVersion)],
        ['version', String(first + index)],
        ['metadata', event.metadata],
      ],
    }));
    let result: { baseOffset: bigint; lastOffset: bigint };
    const appended = this.#partition.append(records);
    this.#inFlight.set(stream, appended);
    try {
      result = await appended;
    } catch (error) {
      // The reservation is now wrong and later batches may be queued behind this one: stop
      // appending; reopening rebuilds the index from what the log really holds.
      this.#failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      if (this.#inFlight.get(stream) === appended) this.#inFlight.delete(stream);
    }
    this.#index.commit(stream, first, Number(result.baseOffset), events.length);
    return { version: first + events.length - 1, position: result.lastOffset };
  }

  async readStream(
    stream: string,
    fromVersion: number,
    direction: 'forward' | 'backward',
    countMax: number,
  ): Promise<StoredEvent[]> {
    const positions = this.#index.positions(stream, fromVersion, direction, countMax);
    const found = new Map<number, LogRecord>();
    const events: StoredEvent[] = [];
    for (const position of positions) {
      let record = found.get(position);
      if (record === undefined) {
        const page = await this.#partition.readRecords(BigInt(position), STREAM_READ_BYTES);
        for (const read of page.records) found.set(Number(read.offset), read);
        record = found.get(position);
        if (record === undefined)
          throw new TransportError(
            `event store log: position ${position} is missing; the log was changed outside the store`,
          );
      }
      events.push(toStored(record));
    }
    return events;
  }

  async readAll(
    fromPosition: bigint,
    countMax: number,
  ): Promise<{ events: StoredEvent[]; nextPosition: bigint }> {
    const start =
      fromPosition < this.#partition.logStartOffset ? this.#partition.logStartOffset : fromPosition;
    if (start >= this.#partition.highWatermark) return { events: [], nextPosition: start };
    const page = await this.#partition.readRecords(start, READ_BYTES);
    const events: StoredEvent[] = [];
    for (const record of page.records) {
      if (record.offset < start || record.offset >= this.#partition.highWatermark) continue;
      events.push(toStored(record));
      if (events.length === countMax) break;
    }
    const last = events.at(-1);
    return { events, nextPosition: last === undefined ? page.nextOffset : last.position + 1n };
  }

  async streamVersion(stream: string): Promise<number> {
    return this.#index.version(stream);
  }

  async headPosition(): Promise<bigint> {
    return this.#partition.highWatermark;
  }

  waitForAppend(position: bigint, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#partition.highWatermark > position || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        stop();
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      const stop = this.#partition.onAppend((highWatermark) => {
        if (highWatermark > position) finish();
      });
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  close(): Promise<void> {
    return this.#partition.close();
  }
}

/** Reads the whole log once to rebuild the stream index; a version out of sequence means a damaged log. */
async function scan(partition: Partition): Promise<StreamIndex> {
  const index = new StreamIndex();
  let offset = partition.logStartOffset;
  while (offset < partition.highWatermark) {
    const page = await partition.readRecords(offset, 4 * 1024 * 1024);
    for (const record of page.records) {
      if (record.offset < offset) continue;
      const stored = toStored(record);
      if (!index.load(stored.stream, stored.version, Number(record.offset))) {
        throw new TransportError(
          `event store log: stream "${stored.stream}" has version ${stored.version} at position ${record.offset} ` +
            `after version ${index.version(stored.stream)}; the log is damaged, restore it from a backup`,
        );
      }
    }
    if (page.nextOffset <= offset) break;
    offset = page.nextOffset;
  }
  return index;
}

/**
 * Opens (or creates) an event store in `directory` on the embedded log. Resolves once the stream
 * index is rebuilt (a scan of the whole log: about 1 s per few million events). Rejects with
 * `LogLockedError` when another process has it open, `ConfigurationError` for bad options.
 *
 * @example
 * const store = await openEmbeddedEventStore({ directory: './data/events', contracts: [OrderPlaced] });
 */
export async function openEmbeddedEventStore(options: EmbeddedEventStoreOptions): Promise<EventStore> {
  if (typeof options?.directory !== 'string' || options.directory.length === 0) {
    throw new ConfigurationError('openEmbeddedEventStore: directory must be a non-empty path');
  }
  const partition = await openPartition({
    directory: options.directory,
    fsync: options.fsync ?? 'always',
    ...(options.segmentBytesMax === undefined ? {} : { segmentBytesMax: options.segmentBytesMax }),
  });
  try {
    const index = await scan(partition);
    return new StoreCore(new EmbeddedBackend(partition, index), options.contracts ?? []);
  } catch (error) {
    await partition.close();
    throw error;
  }
}
