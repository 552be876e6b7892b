/**
 * What the inbox crash test's parent and its consumer child agree on: the event, the topic and
 * group, the tables, and the one statement that applies an event's effect.
 */
import { defineEvent } from '@herald/bus';
import { z } from 'zod';

/** A deposit to one account; its effect is one row in `effects` and a balance update. */
export const Deposited = defineEvent('Deposited', {
  topic: 'deposits',
  schema: z.object({ account: z.string(), amountCents: z.number().int().positive() }),
  key: (deposit) => deposit.account,
});

/** The consumer group of the child. */
export const CRASH_GROUP = 'ledger';

/** Handler concurrency of the child: up to this many accounts are processed at once. */
export const CRASH_CONCURRENCY = 8;

/** How the child applies effects: through the inbox, or straight to the database (at-least-once). */
export type CrashMode = 'inbox' | 'none';

/**
 * Pause of the child between an effect's commit and the handler's return (hence the ack). A real
 * handler does work there too; here it makes the window that the inbox exists for — committed, not
 * yet acked — wide enough that kills land in it on every run (asserted by the test).
 */
export const COMMIT_TO_ACK_DELAY_MS = 4;

/**
 * Faults the child injects on purpose (`HERALD_TEST_FAULT`) to prove the crash test fails:
 * `bypass-inbox` applies effects outside the inbox transaction in mode `inbox` (duplicates appear),
 * `drop-one` acks one event without applying its effect (an event is lost).
 */
export type CrashFault = 'bypass-inbox' | 'drop-one';

/** The event `drop-one` skips: the twentieth each child handles. */
export const DROPPED_EVENT_NUMBER = 20;

export { printLine } from '@herald/test-support';

/**
 * Tables of one run in `schema`. `effects` has no unique constraint on purpose: an event applied
 * twice shows up as two rows.
 */
export function crashSchemaSql(schema: string): string {
  return [
    `create table ${schema}.effects (event_id text not null, account text not null, amount_cents bigint not null)`,
    `create table ${schema}.accounts (account text primary key, balance_cents bigint not null default 0)`,
  ].join(';\n');
}

/**
 * Applies one event in a single statement (one round trip, atomic on its own): the effect row
 * and the balance move together. Parameters: event id, account, amount in cents.
 */
export function applyEffectSql(schema: string): string {
  return (
    `with effect as (insert into ${schema}.effects (event_id, account, amount_cents) values ($1, $2, $3) ` +
    `returning amount_cents) update ${schema}.accounts set balance_cents = balance_cents + ` +
    '(select amount_cents from effect) where account = $2'
  );
}

/** Inbox table of a run. */
export function crashInboxTable(schema: string): string {
  return `${schema}.herald_inbox`;
}
