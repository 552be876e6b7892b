/**
 * The inbox table: one row per message a consumer group processed, keyed by the CloudEvents
 * `(source, id)` of the message. The SQL is exported for users who run migrations themselves.
 */
import { ConfigurationError } from '@herald/bus';

/** Default table name of the inbox. */
export const DEFAULT_INBOX_TABLE = 'herald_inbox';

/** Longest accepted name part (schema or table); leaves room for the index suffix within PostgreSQL's 63 bytes. */
export const TABLE_NAME_PART_LENGTH_MAX = 48;

const NAME_PART = /^[a-z_][a-z0-9_]*$/;

/** A checked table name, quoted for SQL, with the name of its processed-at index. */
export interface InboxTable {
  /** As given, e.g. `herald_inbox` or `billing.herald_inbox`. */
  readonly name: string;
  /** Quoted for SQL, e.g. `"billing"."herald_inbox"`. */
  readonly quoted: string;
  /** Quoted name of the index on `processed_at` (created in the table's schema). */
  readonly indexQuoted: string;
}

/**
 * Checks `name` (`table` or `schema.table`, lower-case letters, digits and underscores) and
 * quotes it. Names are interpolated into SQL, so anything else is refused rather than escaped.
 */
export function inboxTable(name: string = DEFAULT_INBOX_TABLE): InboxTable {
  const parts = typeof name === 'string' ? name.split('.') : [];
  const valid =
    parts.length >= 1 &&
    parts.length <= 2 &&
    parts.every((part) => NAME_PART.test(part) && part.length <= TABLE_NAME_PART_LENGTH_MAX);
  if (!valid) {
    throw new ConfigurationError(
      `postgresInbox: table must be "table" or "schema.table" in lower-case letters, digits and underscores ` +
        `(each part at most ${TABLE_NAME_PART_LENGTH_MAX} characters), got ${JSON.stringify(name)}`,
    );
  }
  const table = parts[parts.length - 1]!;
  return {
    name,
    quoted: parts.map((part) => `"${part}"`).join('.'),
    indexQuoted: `"${table}_processed_at"`,
  };
}

/**
 * The schema of the inbox table `table` (default `herald_inbox`): idempotent DDL, safe to run at
 * every start. `processed_at` is the database's clock when the processing transaction started;
 * the index on it keeps retention pruning cheap.
 *
 * @example
 * await client.query(inboxSchemaSql('billing.herald_inbox'));
 */
export function inboxSchemaSql(table: string = DEFAULT_INBOX_TABLE): string {
  const checked = inboxTable(table);
  return [
    `create table if not exists ${checked.quoted} (`,
    '  group_name text not null,',
    '  source text not null,',
    '  id text not null,',
    '  processed_at timestamptz not null default now(),',
    '  primary key (group_name, source, id)',
    ');',
    `create index if not exists ${checked.indexQuoted} on ${checked.quoted} (processed_at);`,
  ].join('\n');
}

/** The schema of the default `herald_inbox` table, for migration tools. */
export const INBOX_SCHEMA_SQL: string = inboxSchemaSql();
