/**
 * kill -9 acceptance tests of the event store. Appends (embedded and PostgreSQL): a child with 16
 * writers on 100 streams is SIGKILLed at random moments and restarted; every append it
 * acknowledged is stored with its version, and every stream's versions are dense. Projections: a child rebuilding, and a
 * child projecting live while appending, are SIGKILLed; after a catch-up the SQLite read model
 * equals a from-scratch replay row for row (nothing applied twice, nothing lost).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import {
  catchUpProjection,
  type EventStore,
  event,
  openEmbeddedEventStore,
  openPostgresEventStore,
  sqliteProjectionTarget,
} from '@herald/eventstore';
import { POSTGRES_URL } from '@herald/test-support';
import pg from 'pg';
import { Deposited, ledgerProjection, readModelRows, Written } from './support/crash-shared.ts';

const CHILD = join(import.meta.dirname, 'fixtures', 'crash-child.ts');

/** A running child: its stdout lines so far, and a way to wait for one. */
function startChild(args: string[]): {
  child: ChildProcess;
  lines: string[];
  waitFor(match: (line: string) => boolean, deadlineMs?: number): Promise<void>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let rest = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString();
    const parts = text.split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(match, deadlineMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (lines.some(match)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `child ${args[0]}: no matching line within ${deadlineMs} ms; stderr: ${stderr.slice(-2000)}`,
            ),
          );
        }, deadlineMs);
        listeners.add(check);
        void exited.then(() => setTimeout(check, 50));
        check();
      });
    },
  };
}

async function killNine(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  child.kill('SIGKILL');
  await exited;
}

describe('event store crash', { timeout: 240_000 }, () => {
  const directories: string[] = [];
  const children: ChildProcess[] = [];
  const temporary = async () => {
    const directory = await mkdtemp(join(tmpdir(), 'herald-eventstore-crash-'));
    directories.push(directory);
    return directory;
  };
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const directory of directories) await rm(directory, { recursive: true, force: true });
  });

  /** Runs the append child `kills` times, killing each run at a random moment; returns the acks it printed. */
  async function appendAndKill(
    where: string,
    kills: number,
  ): Promise<{ stream: string; version: number; id: string }[]> {
    const acknowledged: { stream: string; version: number; id: string }[] = [];
    for (let run = 0; run < kills; run++) {
      const running = startChild(['append', where]);
      children.push(running.child);
      await running.waitFor((line) => line === 'ready');
      const target = 50 + Math.floor(Math.random() * 400);
      await running.waitFor((line) => line.startsWith('ack') && running.lines.length > target);
      await killNine(running.child, running.exited);
      for (const line of running.lines) {
        const [word, stream, version, id] = line.split(' ');
        if (word === 'ack') acknowledged.push({ stream: stream!, version: Number(version), id: id! });
      }
    }
    return acknowledged;
  }

  /** Every stream's versions are dense and decided on the version before; every acked append is stored. */
  async function assertAppendsKept(
    store: EventStore,
    acknowledged: readonly { stream: string; version: number; id: string }[],
  ): Promise<number> {
    const byStream = new Map<string, Map<number, string>>();
    let total = 0;
    for (let stream = 0; stream < 100; stream++) {
      const events = await store.readStream(`acct-${stream}`);
      total += events.length;
      const versions = new Map<number, string>();
      events.forEach((e, index) => {
        assert.equal(e.version, index + 1, `acct-${stream}: versions dense`);
        assert.equal((e.data as { expected: number }).expected, index, `acct-${stream}: no lost update`);
        versions.set(e.version, e.id);
      });
      byStream.set(`acct-${stream}`, versions);
    }
    for (const ack of acknowledged) {
      assert.equal(
        byStream.get(ack.stream)?.get(ack.version),
        ack.id,
        `acknowledged ${ack.stream}@${ack.version} is stored`,
      );
    }
    assert.ok(acknowledged.length > 0 && total >= acknowledged.length);
    return total;
  }

  it('event store crash - kill -9 during appends: versions dense, nothing acknowledged lost', {
    timeout: 90_000,
  }, async (t) => {
    const directory = await temporary();
    const acknowledged = await appendAndKill(directory, 4);
    const store = await openEmbeddedEventStore({ directory, contracts: [Written] });
    try {
      const total = await assertAppendsKept(store, acknowledged);
      t.diagnostic(`4 kills, ${acknowledged.length} acknowledged appends, ${total} stored`);
    } finally {
      await store.close();
    }
  });

  it('event store crash - PostgreSQL: kill -9 during appends: versions dense, nothing acknowledged lost', {
    timeout: 90_000,
  }, async (t) => {
    const schema = `herald_es_crash_${randomBytes(6).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    try {
      await pool.query(`create schema ${schema}`);
      const table = `${schema}.events`;
      const acknowledged = await appendAndKill(`postgres:${table}`, 3);
      const store = await openPostgresEventStore({ pool, table, contracts: [Written] });
      try {
        const total = await assertAppendsKept(store, acknowledged);
        t.diagnostic(`3 kills, ${acknowledged.length} acknowledged appends, ${total} stored`);
      } finally {
        await store.close();
      }
    } finally {
      await pool.query(`drop schema if exists ${schema} cascade`);
      await pool.end();
    }
  });

  /** Appends deposits to 37 ledger accounts (and noise in another category). */
  async function prefill(directory: string, count: number): Promise<void> {
    const store = await openEmbeddedEventStore({ directory, contracts: [Deposited, Written] });
    try {
      for (let batch = 0; batch < count / 50; batch++) {
        const events = Array.from({ length: 50 }, (_, index) =>
          event(Deposited, { amountCents: 1 + ((batch + index) % 89) }),
        );
        await store.appendToStream(`ledger-${batch % 37}`, events);
        await store.appendToStream(`other-${batch % 5}`, [
          event(Written, { writer: 0, expected: 0, serial: batch }),
        ]);
      }
    } finally {
      await store.close();
    }
  }

  /** Replays from scratch into a fresh database and compares with `dbPath` row for row. */
  async function assertEqualsReplay(directory: string, dbPath: string): Promise<number> {
    const store = await openEmbeddedEventStore({ directory, contracts: [Deposited, Written] });
    const freshPath = join(await temporary(), 'replay.db');
    const fresh = new DatabaseSync(freshPath);
    const crashed = new DatabaseSync(dbPath);
    try {
      // The crashed read model first catches up (what a restart does), then both are compared.
      await catchUpProjection(store, sqliteProjectionTarget(crashed), ledgerProjection);
      await catchUpProjection(store, sqliteProjectionTarget(fresh), ledgerProjection);
      const expected = readModelRows(fresh);
      assert.deepEqual(readModelRows(crashed), expected);
      return expected.applied.length;
    } finally {
      fresh.close();
      crashed.close();
      await store.close();
    }
  }

  it('event store crash - kill -9 during a rebuild: the read model equals a from-scratch replay', {
    timeout: 90_000,
  }, async (t) => {
    const directory = await temporary();
    const dbPath = join(directory, 'read-model.db');
    await prefill(directory, 10_000);
    let killedMidway = 0;
    for (let run = 0; run < 3; run++) {
      const running = startChild(['rebuild', directory, dbPath]);
      children.push(running.child);
      await running.waitFor((line) => line === 'ready');
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(Math.random() * 400)));
      if (!running.lines.includes('done')) killedMidway++;
      await killNine(running.child, running.exited);
    }
    const rows = await assertEqualsReplay(directory, dbPath);
    t.diagnostic(`3 kills (${killedMidway} before the rebuild finished), ${rows} rows equal`);
    assert.ok(killedMidway > 0, 'a kill landed during a rebuild');
  });

  it('event store crash - kill -9 during live updates: the read model equals a from-scratch replay', {
    timeout: 90_000,
  }, async (t) => {
    const directory = await temporary();
    const dbPath = join(directory, 'read-model.db');
    await prefill(directory, 2_000);
    for (let run = 0; run < 4; run++) {
      const running = startChild(['live', directory, dbPath]);
      children.push(running.child);
      await running.waitFor((line) => line === 'ready');
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.floor(Math.random() * 500)));
      await killNine(running.child, running.exited);
    }
    const rows = await assertEqualsReplay(directory, dbPath);
    t.diagnostic(`4 kills during live updates, ${rows} rows equal`);
    assert.ok(rows > 2_000, 'the live runs appended and projected');
  });
});
