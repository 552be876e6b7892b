/**
 * The audit log: every event of every topic, appended in the order the audit service consumed
 * them, each entry chained to the previous one by a SHA-256 hash. Triggers refuse UPDATE and
 * DELETE, so the table is append-only; {@link verifyAuditLog} recomputes the chain and checks
 * that each event appears once and, per topic and key, in its producer's sequence.
 */
import { createHash } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import type { Envelope } from 'herald';

/** Tables of the audit service. */
export const AUDIT_SCHEMA = `
  CREATE TABLE IF NOT EXISTS audit_log (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    seq INTEGER,
    time TEXT NOT NULL,
    data TEXT NOT NULL,
    hash TEXT NOT NULL);
  CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`;

/** Hash "before" the first entry. */
const GENESIS_HASH = '0'.repeat(64);

interface AuditRow {
  position: number;
  event_id: string;
  source: string;
  type: string;
  topic: string;
  partition_key: string;
  seq: number | null;
  time: string;
  data: string;
  hash: string;
}

/** Appends `envelope`, received on `topic`, to the log (inside the caller's transaction). */
export function appendToAuditLog(database: DatabaseSync, topic: string, envelope: Envelope): void {
  const last = database.prepare('SELECT hash FROM audit_log ORDER BY position DESC LIMIT 1').get() as
    | { hash: string }
    | undefined;
  const seq = envelope.extensions.seq === undefined ? null : Number(envelope.extensions.seq);
  const entry = {
    event_id: envelope.id,
    source: envelope.source,
    type: envelope.type,
    topic,
    partition_key: envelope.partitionkey ?? '',
    seq,
    time: envelope.time ?? '',
    data: JSON.stringify(envelope.data),
  };
  database
    .prepare(
      `INSERT INTO audit_log (event_id, source, type, topic, partition_key, seq, time, data, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      entry.event_id,
      entry.source,
      entry.type,
      entry.topic,
      entry.partition_key,
      entry.seq,
      entry.time,
      entry.data,
      chainHash(last?.hash ?? GENESIS_HASH, entry),
    );
}

/** What {@link verifyAuditLog} found. */
export interface AuditVerification {
  readonly entries: number;
  /** Position of the first entry whose hash does not match, or null if the chain is intact. */
  readonly brokenAtPosition: number | null;
  /** Event ids recorded more than once. */
  readonly duplicateIds: string[];
  /** Entries that came after a later entry of the same topic and key (or carry no sequence). */
  readonly orderViolations: { position: number; topic: string; key: string }[];
  /** Expected event ids missing from the log (only when `expectedIds` was given). */
  readonly missingIds: string[];
  /** Logged event ids nobody produced (only when `expectedIds` was given). */
  readonly unexpectedIds: string[];
  /** True when all of the above are clean. */
  readonly ok: boolean;
}

/**
 * Walks the whole log: recomputes the hash chain, finds duplicate ids, checks per-key order and,
 * given the ids every producer published (`expectedIds`), that the log has exactly those.
 */
export function verifyAuditLog(database: DatabaseSync, expectedIds?: ReadonlySet<string>): AuditVerification {
  let previous = GENESIS_HASH;
  let brokenAtPosition: number | null = null;
  let entries = 0;
  const seen = new Set<string>();
  const duplicateIds: string[] = [];
  const lastSeq = new Map<string, number>();
  const orderViolations: { position: number; topic: string; key: string }[] = [];
  const rows = database.prepare('SELECT * FROM audit_log ORDER BY position').iterate() as Iterable<AuditRow>;
  for (const row of rows) {
    entries += 1;
    if (brokenAtPosition === null && chainHash(previous, row) !== row.hash) brokenAtPosition = row.position;
    previous = row.hash;
    if (seen.has(row.event_id)) duplicateIds.push(row.event_id);
    seen.add(row.event_id);
    const stream = `${row.topic}\u0000${row.partition_key}`;
    const before = lastSeq.get(stream);
    if (row.seq === null || (before !== undefined && row.seq <= before)) {
      orderViolations.push({ position: row.position, topic: row.topic, key: row.partition_key });
    }
    if (row.seq !== null) lastSeq.set(stream, Math.max(row.seq, before ?? row.seq));
  }
  const missingIds = expectedIds === undefined ? [] : [...expectedIds].filter((id) => !seen.has(id));
  const unexpectedIds = expectedIds === undefined ? [] : [...seen].filter((id) => !expectedIds.has(id));
  const ok =
    brokenAtPosition === null &&
    duplicateIds.length === 0 &&
    orderViolations.length === 0 &&
    missingIds.length === 0 &&
    unexpectedIds.length === 0;
  return { entries, brokenAtPosition, duplicateIds, orderViolations, missingIds, unexpectedIds, ok };
}

function chainHash(
  previous: string,
  entry: Omit<AuditRow, 'position' | 'hash'> & Partial<Pick<AuditRow, 'position' | 'hash'>>,
): string {
  const fields = [
    entry.event_id,
    entry.source,
    entry.type,
    entry.topic,
    entry.partition_key,
    entry.seq,
    entry.time,
    entry.data,
  ];
  return createHash('sha256').update(previous).update('\n').update(JSON.stringify(fields)).digest('hex');
}
