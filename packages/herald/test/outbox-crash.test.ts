/**
 * Crash test of the transactional outbox (issue 19's acceptance). 32 writers stage
 * `Credited { account, version }` in transactions that bump the account's version, commit after a
 * random delay and roll back one in ten; relays publish to RabbitMQ; the writer/relay processes
 * are killed with SIGKILL at random moments and restarted. A consumer with the PostgreSQL inbox
 * records one effect row per message. Then, against the committed outbox rows (the truth: a
 * rolled-back or killed transaction left none):
 *   0 lost (a committed message without effect), 0 phantom (an effect of a message never
 *   committed), 0 double effects, and per account the versions took effect as 1, 2, 3, …:
 *   publish order = commit order.
 * SQLite: one process (32 writers and the relay; SQLite has one writer). PostgreSQL: three
 * processes (11 + 11 + 10 writers), so three relays share the table.
 * OUTBOX_CRASH_SEED replays a run; OUTBOX_CRASH_SOAK=1 runs ten times longer (ten times the
 * messages and kills); OUTBOX_CRASH_TARGET sets the SQLite run's messages (default 600);
 * OUTBOX_CRASH_DEBUG=1 prints messages that took effect twice, with the sources they came from.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { postgresInbox } from '@herald/postgres';
import { type Child, createRandom, eventually, POSTGRES_URL, spawnChild } from '@herald/test-support';
import { deleteTopology, rabbitMqTransport } from '@herald/transport-rabbitmq';
import { consoleLogger, createBus } from 'herald';
import pg from 'pg';
import { ACCOUNTS, Credited, RABBITMQ_URL } from './support/outbox-crash-workload.ts';

const seed = Number(process.env.OUTBOX_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const soak = process.env.OUTBOX_CRASH_SOAK === '1' ? 10 : 1;
const WRITER = path.join(import.meta.dirname, 'fixtures', 'outbox-writer.ts');
const WRITERS = 32;
const READY_TIMEOUT_MS = 20_000;

interface CrashRun {
  readonly mode: 'sqlite' | 'postgres';
  readonly processes: number;
  readonly target: number;
  readonly kills: number;
  readonly seed: number;
}

interface CrashResult {
  readonly committed: number;
  readonly effects: number;
  readonly lost: number;
  readonly phantom: number;
  readonly doubleEffects: number;
  readonly outOfOrder: readonly string[];
  readonly kills: number;
  readonly skippedByInbox: number;
}

async function runOutboxCrash(run: CrashRun): Promise<CrashResult> {
  const random = createRandom(run.seed);
  const schema = `herald_outbox_crash_${randomBytes(5).toString('hex')}`;
  const prefix = `herald-outbox-crash-${randomBytes(4).toString('hex')}.`;
  const directory = await mkdtemp(path.join(tmpdir(), 'herald-outbox-crash-'));
  const sqlitePath = path.join(directory, 'writer.sqlite');
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  const children: (Child | undefined)[] = [];
  const consumerTransport = await rabbitMqTransport({
    url: RABBITMQ_URL,
    exchangePrefix: prefix,
    queueType: 'classic',
  });
  const consumer = createBus({
    transport: consumerTransport,
    idempotency: postgresInbox({ pool, table: `${schema}.consumer_inbox` }),
    logger: consoleLogger('error'),
  });
  try {
    await pool.query(`create schema ${schema}`);
    await pool.query(
      `create table ${schema}.effects (position bigint generated always as identity, message_id text not null, source text not null,
         account text not null, version int not null)`,
    );
    await pool.query(`create table ${schema}.accounts (account text primary key, version int not null)`);
    await pool.query(`insert into ${schema}.accounts select unnest($1::text[]), 0`, [ACCOUNTS]);
    consumer.on(Credited, { group: 'effects', concurrency: 16 }, async (credit, context) => {
      await context.transaction<void, pg.PoolClient>(async (tx) => {
        await tx.query(
          `insert into ${schema}.effects (message_id, source, account, version) values ($1, $2, $3, $4)`,
          [context.envelope.id, context.envelope.source, credit.account, credit.version],
        );
      });
    });
    // The consumer's queues exist before anything is published.
    await consumer.start();
    const database = run.mode === 'sqlite' ? sqlitePath : schema;
    const spawn = (index: number): Child => {
      const writers = Math.floor(WRITERS / run.processes) + (index < WRITERS % run.processes ? 1 : 0);
      const args = [
        WRITER,
        run.mode,
        database,
        prefix,
        String(writers),
        String(run.target),
        String(random() * 2 ** 31),
      ];
      const child = spawnChild(process.execPath, args);
      children[index] = child;
      return child;
    };
    for (let index = 0; index < run.processes; index++) {
      await spawn(index).waitForLine(/^ready$/, READY_TIMEOUT_MS, 'the writer to start');
    }
    // Kill -9 at random moments, anywhere: mid-transaction, mid-publish, between publish and mark.
    let kills = 0;
    while (kills < run.kills) {
      await new Promise((resolve) => setTimeout(resolve, 150 + random() * 600));
      const index = Math.floor(random() * run.processes);
      await children[index]!.kill();
      kills += 1;
      await spawn(index).waitForLine(/^ready$/, READY_TIMEOUT_MS, 'the writer to restart');
    }
    for (const child of children)
      await child!.waitForLine(/^done$/, 60_000 * soak, 'the writers to reach the target');
    const truth = await committedIds(run.mode, sqlitePath, pool, schema);
    await eventually(
      async () => (await distinctEffects(pool, schema)) >= truth.size,
      `effects for all ${truth.size} committed messages`,
      30_000 * soak,
      100,
    );
    if (process.env.OUTBOX_CRASH_DEBUG === '1') {
      const rows = await pool.query(
        `select message_id, array_agg(source order by position) as sources from ${schema}.effects
         group by message_id having count(*) > 1 limit 5`,
      );
      console.log(JSON.stringify(rows.rows));
    }
    return {
      ...(await verify(pool, schema, truth)),
      kills,
      skippedByInbox: consumer.stats().duplicatesSkipped,
    };
  } finally {
    for (const child of children) await child?.kill().catch(() => undefined);
    await consumer.stop();
    await deleteTopology(RABBITMQ_URL, consumerTransport.topology()).catch(() => undefined);
    await pool.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await pool.end();
    await rm(directory, { recursive: true, force: true });
  }
}

/** Ids of the messages whose transaction committed: the outbox rows (nothing is pruned within a run). */
async function committedIds(mode: CrashRun['mode'], sqlitePath: string, pool: pg.Pool, schema: string) {
  if (mode === 'postgres') {
    const result = await pool.query(`select id from ${schema}.outbox`);
    return new Set(result.rows.map((row) => row.id as string));
  }
  const database = new DatabaseSync(sqlitePath, { readOnly: true });
  try {
    const rows = database.prepare('SELECT id FROM herald_outbox').all() as { id: string }[];
    return new Set(rows.map((row) => row.id));
  } finally {
    database.close();
  }
}

async function distinctEffects(pool: pg.Pool, schema: string): Promise<number> {
  const result = await pool.query(`select count(distinct message_id)::int as n from ${schema}.effects`);
  return result.rows[0].n as number;
}

async function verify(pool: pg.Pool, schema: string, truth: ReadonlySet<string>) {
  const effects = (
    await pool.query(`select message_id, account, version from ${schema}.effects order by position`)
  ).rows as { message_id: string; account: string; version: number }[];
  const seen = new Set<string>();
  let doubleEffects = 0;
  let phantom = 0;
  const versions = new Map<string, number[]>();
  for (const effect of effects) {
    if (seen.has(effect.message_id)) doubleEffects += 1;
    seen.add(effect.message_id);
    if (!truth.has(effect.message_id)) phantom += 1;
    versions.set(effect.account, [...(versions.get(effect.account) ?? []), effect.version]);
  }
  const lost = [...truth].filter((id) => !seen.has(id)).length;
  const outOfOrder: string[] = [];
  for (const [account, list] of versions) {
    if (list.some((version, index) => version !== index + 1))
      outOfOrder.push(`${account}: ${list.join(',')}`);
  }
  return { committed: truth.size, effects: effects.length, lost, phantom, doubleEffects, outOfOrder };
}

function check(result: CrashResult): void {
  assert.equal(result.lost, 0, 'committed messages lost');
  assert.equal(result.phantom, 0, 'messages of rolled-back transactions published');
  assert.equal(result.doubleEffects, 0, 'effects applied twice');
  assert.deepEqual(result.outOfOrder, [], 'per account, effects not in commit order');
  assert.ok(result.committed > 0);
}

describe('outbox crash', { timeout: 600_000 }, () => {
  it('outbox crash - SQLite: 32 writers and the relay killed -9 at random: 0 lost, 0 phantom, 0 double, commit order per key', {
    timeout: 120_000 * soak,
  }, async (t) => {
    t.diagnostic(`seed ${seed} (replay with OUTBOX_CRASH_SEED=${seed})`);
    const result = await runOutboxCrash({
      mode: 'sqlite',
      processes: 1,
      target: Number(process.env.OUTBOX_CRASH_TARGET ?? 600) * soak,
      kills: 6 * soak,
      seed,
    });
    t.diagnostic(JSON.stringify(result));
    check(result);
  });

  it('outbox crash - PostgreSQL: three relays (32 writers) killed -9 at random: 0 lost, 0 phantom, 0 double, commit order per key', {
    timeout: 120_000 * soak,
  }, async (t) => {
    const runSeed = (seed + 1) % 2 ** 31;
    t.diagnostic(`seed ${runSeed}`);
    const result = await runOutboxCrash({
      mode: 'postgres',
      processes: 3,
      target: 800 * soak,
      kills: 6 * soak,
      seed: runSeed,
    });
    t.diagnostic(JSON.stringify(result));
    check(result);
  });
});
