/** What the crash test and its child share: the events and the ledger projection into SQLite. */
import type { DatabaseSync } from 'node:sqlite';
import { defineEvent } from '@herald/bus';
import type { Projection } from '@herald/eventstore';
import { z } from 'zod';

export { Written } from './backends.ts';

/** A deposit to the account of its stream. */
export const Deposited = defineEvent('Deposited', {
  topic: 'ledger',
  schema: z.object({ amountCents: z.number().int().positive() }),
});

/**
 * The read model: one row per applied event (no unique key on purpose, so an event applied twice
 * shows as two rows) and one balance per account.
 */
export const ledgerProjection: Projection<DatabaseSync> = {
  name: 'ledger',
  category: 'ledger',
  setup(db) {
    db.exec(
      'create table if not exists applied (position text not null, stream text not null, version integer not null, amount_cents integer not null);' +
        'create table if not exists balances (account text primary key, balance_cents integer not null, deposits integer not null)',
    );
  },
  reset(db) {
    db.exec('delete from applied; delete from balances');
  },
  apply(db, event) {
    const amount = (event.data as { amountCents: number }).amountCents;
    db.prepare('insert into applied (position, stream, version, amount_cents) values (?, ?, ?, ?)').run(
      event.position.toString(),
      event.stream,
      event.version,
      amount,
    );
    db.prepare(
      'insert into balances (account, balance_cents, deposits) values (?, ?, 1) ' +
        'on conflict (account) do update set balance_cents = balance_cents + excluded.balance_cents, deposits = deposits + 1',
    ).run(event.stream, amount);
  },
};

/** Every row of the read model, in a fixed order, for a row-for-row comparison. */
export function readModelRows(db: DatabaseSync): { applied: unknown[]; balances: unknown[] } {
  return {
    applied: db
      .prepare(
        'select position, stream, version, amount_cents from applied order by cast(position as integer), rowid',
      )
      .all(),
    balances: db.prepare('select account, balance_cents, deposits from balances order by account').all(),
  };
}
