/**
 * The read state of one partition a Kafka subscription owns: its {@link KeyedFifo} of fetched
 * records (per-key order and the commit point, at most `partitionWindowMax` records from the
 * commit point up), where fetching resumes, and what was last committed; and how fetched batches
 * are admitted into it.
 */
import { KeyedFifo } from '@herald/bus/internal';
import type { fetchV17 } from '@platformatic/kafka';
import { fromRecord } from './records.ts';

/** A Fetch response as the client decodes it. */
export type FetchResponse = fetchV17.FetchResponse;
type FetchedBatch = NonNullable<FetchResponse['responses'][number]['partitions'][number]['records']>[number];

/** Batch attribute bit of control batches (transaction markers), which carry no messages. */
const IS_CONTROL = 0x20;

/** A fetched record as a partition's window holds it. */
export interface WindowRecord {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  /** 1 on first delivery, +1 per nack. */
  attempt: number;
  /** Non-zero while delivered; changes per delivery so a stale settlement is ignored. */
  token: number;
}

/** The read state of one partition this member owns. */
export class PartitionWindow {
  readonly partition: number;
  /** Fetched records not below the commit point; per-key order and the commit point. */
  readonly records: KeyedFifo<WindowRecord>;
  /** Whether the starting position is known (before it, nothing is fetched or committed). */
  started = false;
  /** Offset last committed (or the starting position). */
  committed: bigint | undefined;
  /** False once revoked: settlements of its records then do nothing. */
  owned = true;

  constructor(partition: number, recordsMax: number) {
    this.partition = partition;
    this.records = new KeyedFifo<WindowRecord>({ entriesMax: recordsMax });
  }

  /** Next offset to fetch; undefined until the starting position is known. */
  get nextFetch(): bigint | undefined {
    return this.started ? this.records.nextOffset : undefined;
  }

  /** Sets the starting position (the committed offset, or the log start for a new group). */
  start(offset: bigint): void {
    this.records.reset(offset);
    this.started = true;
    this.committed = offset;
  }

  /** The offset that may be committed: the lowest unfinished record's, or the next to fetch. */
  commitPoint(): bigint | undefined {
    return this.started ? this.records.commitPoint() : undefined;
  }

  /** Forgets every record (revocation). */
  clear(): void {
    this.owned = false;
    this.records.reset();
  }
}

/**
 * Adds the records of fetched batches to a partition's window, from its next fetch offset, until
 * the window is full; what does not fit is fetched again later. Control batches only move the
 * next fetch offset past them.
 */
export function admitBatches(records: KeyedFifo<WindowRecord>, batches: readonly FetchedBatch[]): void {
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    if ((batch.attributes & IS_CONTROL) === 0) {
      for (const record of batch.records) {
        const offset = batch.firstOffset + BigInt(record.offsetDelta);
        if (offset < records.nextOffset) continue; // A batch starts before the fetch offset.
        if (!records.hasRoom()) return;
        const message = fromRecord(record);
        const timestampMs = Number(batch.firstTimestamp + record.timestampDelta);
        const value = { headers: message.headers, body: message.body, timestampMs, attempt: 1, token: 0 };
        records.enqueue(value, message.key, offset);
      }
    }
    if (lastOffset + 1n > records.nextOffset) records.skipTo(lastOffset + 1n);
  }
}
