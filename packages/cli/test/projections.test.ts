/**
 * `herald projections`: lists the projections a module exports, and rebuilds one by replay into
 * its SQLite read model; an unknown name is "not found" (exit 3), a module without `projections`
 * is bad usage (exit 2).
 */
import assert from 'node:assert/strict';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { defineEvent } from '@herald/bus';
import { event, openEmbeddedEventStore } from '@herald/eventstore';
import { temporaryDirectory } from '@herald/test-support';
import { z } from 'zod';
import { herald, heraldOk } from './support.ts';

const Deposited = defineEvent('Deposited', {
  topic: 'ledger',
  schema: z.object({ cents: z.number().int() }),
});

/** The module the command imports: one projection of deposit totals into `db`. */
function projectionModule(db: string): string {
  return `
import { DatabaseSync } from 'node:sqlite';
import { sqliteProjectionTarget } from '@herald/eventstore';
const db = new DatabaseSync(${JSON.stringify(db)});
export const projections = [{
  target: sqliteProjectionTarget(db),
  projection: {
    name: 'totals',
    category: 'account',
    setup: (tx) => tx.exec('create table if not exists totals (account text primary key, cents integer)'),
    reset: (tx) => tx.exec('delete from totals'),
    apply: (tx, e) => tx.prepare('insert into totals values (?, ?) on conflict (account) do update set cents = cents + excluded.cents').run(e.stream, e.data.cents),
  },
}];
export async function close() { db.close(); }
`;
}

// The temporary directory is removed when the test process exits (temporaryDirectory).
describe('projections command', { timeout: 120_000 }, () => {
  const directory = temporaryDirectory('herald-cli-projections-');

  it('projections command - list and rebuild by replay; unknown names and bad modules are refused', async () => {
    const events = join(directory, 'events');
    const db = join(directory, 'read-model.db');
    const module = join(directory, 'projections.mjs');
    writeFileSync(module, projectionModule(db));
    // The module imports @herald/eventstore as an application would: through a node_modules it sees.
    symlinkSync(join(import.meta.dirname, '..', '..', '..', 'node_modules'), join(directory, 'node_modules'));
    const store = await openEmbeddedEventStore({ directory: events });
    try {
      for (let index = 0; index < 30; index++) {
        await store.appendToStream(`account-${index % 3}`, [event(Deposited, { cents: index })]);
      }
    } finally {
      await store.close();
    }
    const list = await heraldOk(['projections', 'list', '--module', module]);
    assert.equal(list.stdout, 'totals\tsqlite\taccount\n');
    // A stale row the rebuild must remove.
    const stale = new DatabaseSync(db);
    stale.exec(
      "create table if not exists totals (account text primary key, cents integer); insert into totals values ('account-9', 1)",
    );
    stale.close();
    const rebuilt = await heraldOk([
      'projections',
      'rebuild',
      'totals',
      '--module',
      module,
      '--data',
      events,
      '--page-count',
      '7',
    ]);
    assert.match(rebuilt.stdout, /^rebuilt totals \(sqlite\): replayed to position 30 in \d+ ms$/m);
    const check = new DatabaseSync(db);
    try {
      assert.deepEqual(
        check
          .prepare('select account, cents from totals order by account')
          .all()
          .map((row) => ({ ...row })),
        [
          { account: 'account-0', cents: 135 },
          { account: 'account-1', cents: 145 },
          { account: 'account-2', cents: 155 },
        ],
      );
    } finally {
      check.close();
    }
    const unknown = await herald(['projections', 'rebuild', 'nope', '--module', module, '--data', events]);
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.match(unknown.stderr, /no projection "nope" in the module; it declares: totals/);
    const empty = join(directory, 'empty.mjs');
    writeFileSync(empty, 'export const other = 1;\n');
    const bad = await herald(['projections', 'list', '--module', empty]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /must export "projections"/);
  });
});
